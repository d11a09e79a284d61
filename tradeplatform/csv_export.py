"""Streamed CSV downloads (contract §7 and the console's export actions).

Rows leave the database in chunks and reach the client as they are written,
so a large export holds neither the whole table in memory nor the worker
until it is done. Values are written as the JSON API writes them (RFC 3339
times in UTC with Z, decimal strings), and text that a spreadsheet would run
as a formula is defused (OWASP "CSV injection"): the text is what users sent.
"""

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 2000

_datetime_field = serializers.DateTimeField()


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _datetime_field.to_representation(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
    return str(value)


class _Echo:
    """csv.writer wants a file; this one hands each line straight back."""

    def write(self, line):
        return line


def streaming_csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def queryset_rows(queryset, columns: Sequence[str]):
    """The `columns` (ORM lookups) of each row, fetched CHUNK_ROWS at a time."""
    return queryset.values_list(*columns).iterator(chunk_size=CHUNK_ROWS)


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through DRF's content negotiation on export
    views, which stream their own response."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else b""
