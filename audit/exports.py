"""The audit log's two downloads, both in chain order (oldest first).

- CSV, for reading in a spreadsheet: one row per entry, the API document's
  fields in the API's order, `meta` as its canonical JSON, an empty cell for
  null (only `actor`, `ip` and `request_id` can be null). Like every CSV the
  project writes, text a spreadsheet would run as a formula is defused with a
  leading `'` (`core.csv_export`): entries quote what attackers typed (a
  failed login's username, a User-Agent), and staff open these files. So a
  CSV cell is not always the stored value, and the chain is not recomputed
  from it.
- JSON Lines, for recomputing the chain: one entry per line exactly as the
  API returns it, `hash` included (`verify_audit --file` checks such a file).
"""

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

from audit import chain
from audit.serializers import AuditEntrySerializer
from core.csv_export import ROWS_PER_CHUNK, streaming_csv_response

COLUMNS = AuditEntrySerializer.Meta.fields
JSONL_MEDIA_TYPE = "application/jsonl"


def _row(entry):
    document = chain.entry_document(entry)
    document["meta"] = chain.canonical(document["meta"])
    return [document[column] for column in COLUMNS]


def csv_response(entries):
    return streaming_csv_response(filename="audit.csv", header=COLUMNS, rows=(_row(entry) for entry in entries))


def jsonl_response(entries):
    # The API's own renderer (UTF-8, compact, U+2028/U+2029 escaped), so a
    # line is the list's JSON of that entry and nothing in it breaks a line.
    renderer = JSONRenderer()

    def chunks():
        lines = []
        for entry in entries:
            lines.append(renderer.render(chain.entry_document(entry)) + b"\n")
            if len(lines) == ROWS_PER_CHUNK:
                yield b"".join(lines)
                lines = []
        yield b"".join(lines)

    response = StreamingHttpResponse(chunks(), content_type=JSONL_MEDIA_TYPE)
    response["Content-Disposition"] = 'attachment; filename="audit.jsonl"'
    response["Cache-Control"] = "no-store"
    return response


class JSONLinesRenderer(BaseRenderer):
    """Lets the JSON Lines export through DRF's content negotiation; the view
    streams its own response."""

    media_type = JSONL_MEDIA_TYPE
    format = "jsonl"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else b""
