"""The CSV form of contract §5's entries: one row per entry, the API
document's fields in the API's order, `meta` as its canonical JSON, an empty
cell for null (only `actor`, `ip` and `request_id` can be null; they are
never stored empty). So the chain can be recomputed from an export alone."""

import csv
import io
import json

from audit import chain
from audit.serializers import AuditEntrySerializer

COLUMNS = AuditEntrySerializer.Meta.fields
ROWS_PER_CHUNK = 500


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return value


def csv_chunks(entries):
    """Yields the CSV text a few hundred rows at a time: few enough to keep
    memory flat, many enough not to make one socket write per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for count, entry in enumerate(entries, start=1):
        document = chain.entry_document(entry)
        writer.writerow([_cell(document[column]) for column in COLUMNS])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
