"""The audit app's raw SQL, each statement with the reason the ORM cannot say it."""

import json

# An entry's columns, named as in its API document (`chain.entry_document`).
COLUMN_NAMES = ("id", "seq", "ts", "actor_type", "actor", "action", "target_type", "target_id", "status", "ip",
                "user_agent", "request_id", "meta", "prev_hash", "hash")
COLUMNS = ", ".join(COLUMN_NAMES)

# Appending an entry on PostgreSQL. The ORM would need three statements, and
# so three round trips, every one of them inside the appending transaction:
# lock and read the head, insert the entry, move the head. This is one.
# Sent with the action's COMMIT instead (a psycopg pipeline, or one query
# string), it measured no cheaper than in a round trip of its own: its cost
# is its work in PostgreSQL (bench/README.md, audit_append).
#
# The UPDATE locks the head row, which serializes appends until the appending
# transaction ends; after waiting for that lock PostgreSQL applies the UPDATE
# to the newest committed head (READ COMMITTED re-reads a row it waited for),
# so the chain never forks and seq never skips. It links the entry (seq + 1,
# prev_hash = the head's hash) and hashes it: SHA-256 over the UTF-8 bytes of
# prev_hash followed by the canonical JSON, which Python sends in three pieces
# around the link (`chain.canonical_json_around_link`). The columns come from
# the same document, as the API shows it: id and ts as text.
APPEND_ENTRY = f"""
WITH head AS (
    UPDATE audit_chainhead
       SET seq = seq + 1,
           prev_hash = hash,
           hash = encode(sha256(convert_to(
               hash || %(before)s || hash || %(between)s || (seq + 1) || %(after)s, 'UTF8')), 'hex')
     WHERE id = 1
 RETURNING seq, prev_hash, hash
)
INSERT INTO audit_auditentry ({COLUMNS})
SELECT %(id)s::uuid, head.seq, %(ts)s::timestamptz, %(actor_type)s, %(actor)s, %(action)s, %(target_type)s,
       %(target_id)s, %(status)s, %(ip)s::inet, %(user_agent)s, %(request_id)s, %(meta)s::jsonb,
       head.prev_hash, head.hash
  FROM head
RETURNING seq, prev_hash, hash
"""


def append_entry_params(document: dict, pieces: tuple[str, str, str]) -> dict:
    """APPEND_ENTRY's parameters: the entry's API document
    (`chain.entry_document`), its meta as JSON, and its canonical JSON cut
    around the link (`chain.canonical_json_around_link`)."""
    before, between, after = pieces
    return {**document, "meta": json.dumps(document["meta"]), "before": before, "between": between, "after": after}


# Appending several entries on PostgreSQL, once Python has locked the head
# and linked and hashed them: one statement stores them all and moves the
# head to the last. The entries travel as one JSON array of their API
# documents, whose keys are the column names: one parameter, the same
# statement however many entries there are, and nothing for Python to prepare
# value by value (bulk insertion through the ORM would, and would move the
# head in a statement of its own).
APPEND_ENTRIES = f"""
WITH moved AS (
    UPDATE audit_chainhead
       SET seq = %(head_seq)s, prev_hash = %(head_prev_hash)s, hash = %(head_hash)s
     WHERE id = 1
)
INSERT INTO audit_auditentry ({COLUMNS})
SELECT {COLUMNS} FROM json_populate_recordset(NULL::audit_auditentry, %(documents)s::json)
"""
