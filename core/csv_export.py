"""Streamed CSV downloads (contract §5 and §7, the console's export actions).

Rows leave the database in chunks and reach the client a few hundred at a
time as they are written, so a large export holds neither the whole table in
memory nor the worker until it is done. Values are written as the JSON API
writes them (RFC 3339 times in UTC with Z, decimal strings), and text that a
spreadsheet would run as a formula is defused (OWASP "CSV injection"): the
text is what users sent. The audit export alone opts out (see
`streaming_csv_response`).
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched from the database per round trip.
FETCH_ROWS = 2000
# Rows per streamed chunk: few enough to keep memory flat, many enough not to
# make one socket write per row.
ROWS_PER_CHUNK = 500

_datetime_field = serializers.DateTimeField()


def csv_cell(value, *, defuse_formulas=True) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _datetime_field.to_representation(value)
    if isinstance(value, str):
        return "'" + value if defuse_formulas and value.startswith(FORMULA_TRIGGERS) else value
    return str(value)


def streaming_csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence],
                           defuse_formulas=True) -> StreamingHttpResponse:
    """`defuse_formulas=False` writes text exactly as given, for an export
    whose cells must be the stored values byte for byte (the audit log's,
    whose hashes are recomputed from the file)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def chunks():
        writer.writerow(header)
        for count, row in enumerate(rows, start=1):
            writer.writerow([csv_cell(value, defuse_formulas=defuse_formulas) for value in row])
            if count % ROWS_PER_CHUNK == 0:
                yield flush()
        yield flush()

    response = StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def queryset_rows(queryset, columns: Sequence[str]):
    """The `columns` (ORM lookups) of each row, fetched FETCH_ROWS at a time."""
    return queryset.values_list(*columns).iterator(chunk_size=FETCH_ROWS)


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through DRF's content negotiation on export
    views, which stream their own response."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else b""
