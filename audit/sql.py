"""The audit app's raw SQL, each statement with the reason the ORM cannot say it."""

# Appending an entry on PostgreSQL. The ORM would need three statements, and
# so three round trips, every one of them inside the appending transaction:
# lock and read the head, insert the entry, move the head. This is one.
#
# The UPDATE locks the head row, which serializes appends until the appending
# transaction ends; after waiting for that lock PostgreSQL applies the UPDATE
# to the newest committed head (READ COMMITTED re-reads a row it waited for),
# so the chain never forks and seq never skips. It links the entry (seq + 1,
# prev_hash = the head's hash) and hashes it: SHA-256 over the UTF-8 bytes of
# prev_hash followed by the canonical JSON, which Python sends in three pieces
# around the link (`chain.canonical_json_around_link`). The columns come from
# the same document, as the API shows it: id and ts as text.
APPEND_ENTRY = """
WITH head AS (
    UPDATE audit_chainhead
       SET seq = seq + 1,
           prev_hash = hash,
           hash = encode(sha256(convert_to(
               hash || %(before)s || hash || %(between)s || (seq + 1) || %(after)s, 'UTF8')), 'hex')
     WHERE id = 1
 RETURNING seq, prev_hash, hash
)
INSERT INTO audit_auditentry (id, seq, ts, actor_type, actor, action, target_type, target_id, status, ip,
                              user_agent, request_id, meta, prev_hash, hash)
SELECT %(id)s::uuid, head.seq, %(ts)s::timestamptz, %(actor_type)s, %(actor)s, %(action)s, %(target_type)s,
       %(target_id)s, %(status)s, %(ip)s::inet, %(user_agent)s, %(request_id)s, %(meta)s::jsonb,
       head.prev_hash, head.hash
  FROM head
RETURNING seq, prev_hash, hash
"""
