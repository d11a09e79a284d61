"""The CSV form of contract §5's entries: one row per entry, the API
document's fields in the API's order, `meta` as its canonical JSON, an empty
cell for null (only `actor`, `ip` and `request_id` can be null; they are
never stored empty). So the chain can be recomputed from an export alone,
which is why no cell is formula-defused: every cell is the stored value."""

from audit import chain
from audit.serializers import AuditEntrySerializer
from core.csv_export import streaming_csv_response

COLUMNS = AuditEntrySerializer.Meta.fields


def _row(entry):
    document = chain.entry_document(entry)
    document["meta"] = chain.canonical(document["meta"])
    return [document[column] for column in COLUMNS]


def csv_response(entries):
    return streaming_csv_response(filename="audit.csv", header=COLUMNS, rows=(_row(entry) for entry in entries),
                                  defuse_formulas=False)
