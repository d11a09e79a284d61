"""Streamed CSV downloads (the signals, approvals and audit exports, and the
console's export action).

Rows leave the database in chunks and reach the client a few hundred at a
time as they are written, so a large export holds neither the whole table in
memory nor the worker until it is done. Values are written as the JSON API
writes them (RFC 3339 times in UTC with Z, decimal strings), and text that a
spreadsheet would run as a formula is defused in every cell (`csv_cell`):
the text is what users, producers and attackers sent, and whoever opens the
file is a staff member or a trader.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

# OWASP's CSV injection list (a formula, DDE or a hyperlink starts with one of
# these), and the full-width forms some spreadsheets also take for the first.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A cell that is only a number (`-1.5`, `+3`, `-2.5e-3`) is what a
# spreadsheet reads as that number, never as a formula: it is left as is, so
# a negative price or P&L stays a number to sum rather than text.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# Rows fetched from the database per round trip.
FETCH_ROWS = 2000
# Rows per streamed chunk: few enough to keep memory flat, many enough not to
# make one socket write per row.
ROWS_PER_CHUNK = 500

_datetime_field = serializers.DateTimeField()


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _datetime_field.to_representation(value)
    if isinstance(value, str):
        return "'" + value if is_formula(value) else value
    return str(value)


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could run `text`: it starts with a trigger, also
    after leading whitespace (some spreadsheets trim it on import), and is
    not a plain number. A leading `'` makes the spreadsheet show it as text."""
    stripped = text.lstrip()
    starts_like_a_formula = text.startswith(FORMULA_TRIGGERS) or stripped.startswith(FORMULA_TRIGGERS)
    return starts_like_a_formula and not PLAIN_NUMBER.fullmatch(stripped)


def streaming_csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
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
            writer.writerow([csv_cell(value) for value in row])
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
