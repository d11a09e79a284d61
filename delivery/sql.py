"""The outbox's statement for a signal published to many subscribers: one
event row per copy of the signal, and a delivery per matching endpoint of
each copy's owner, written by the database from the rows the ingestion has
just inserted (`INSERT ... SELECT`), not by Python row by row.

Why: a publication may reach tens of thousands of feeds inside the signed
ingest call. Rendering each copy's resource and saving it through the ORM
took 0.5 to 0.8 ms a copy (5 to 8 s for 10,000, most of the call); the
copies differ from the owner's signal only in their id and owner, so the
owner's rendered resource is the template and the database fills those two
in. A signal's `chart_url` is signed again whenever an event is sent
(delivery.services.envelope), so the template's link does no harm.

The names are the tables and columns Django made for delivery's models,
signals.Signal and accounts.User; all lowercase, unquoted. Parameters are
passed by name, adapted to the database (UUIDs as the fields store them)."""

# PostgreSQL: both inserts in one statement, answering how many deliveries
# it made (the sender is woken only if any).
PUBLISHED_POSTGRESQL = """
WITH events AS (
    INSERT INTO delivery_event (user_id, type, payload, created_at)
    SELECT s.owner_id, %(type)s,
           %(template)s::jsonb || jsonb_build_object('id', s.id::text, 'owner', u.username), %(now)s
      FROM signals_signal s JOIN accounts_user u ON u.id = s.owner_id
     WHERE s.origin_id = %(publication)s
    RETURNING id, user_id
), deliveries AS (
    INSERT INTO delivery_delivery (event_id, endpoint_id, status, attempts, tries, next_attempt_at, last_error,
                                   created_at)
    SELECT e.id, w.id, 'pending', 0, 0, %(now)s, '', %(now)s
      FROM events e JOIN delivery_webhookendpoint w ON w.owner_id = e.user_id
     WHERE w.enabled AND w.events @> jsonb_build_array(%(type)s::text)
    RETURNING 1
)
SELECT count(*) FROM deliveries
"""

# SQLite: the transaction holds the database's one write lock, so the new
# events are exactly those above the newest id read before inserting them.
# Its UUIDs are stored as 32 hex digits: the API writes them with hyphens.
LATEST_EVENT_SQLITE = "SELECT coalesce(max(id), 0) FROM delivery_event"

PUBLISHED_EVENTS_SQLITE = """
INSERT INTO delivery_event (user_id, type, payload, created_at)
SELECT s.owner_id, %(type)s,
       json_set(%(template)s, '$.id', lower(substr(s.id, 1, 8) || '-' || substr(s.id, 9, 4) || '-' ||
                substr(s.id, 13, 4) || '-' || substr(s.id, 17, 4) || '-' || substr(s.id, 21)),
                '$.owner', u.username), %(now)s
  FROM signals_signal s JOIN accounts_user u ON u.id = s.owner_id
 WHERE s.origin_id = %(publication)s
"""

PUBLISHED_DELIVERIES_SQLITE = """
INSERT INTO delivery_delivery (event_id, endpoint_id, status, attempts, tries, next_attempt_at, last_error,
                               created_at)
SELECT e.id, w.id, 'pending', 0, 0, %(now)s, '', %(now)s
  FROM delivery_event e JOIN delivery_webhookendpoint w ON w.owner_id = e.user_id
 WHERE e.id > %(after)s AND w.enabled AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = %(type)s)
"""

# PostgreSQL: the outbox's rows (delivery/outbox.py `record`) and their
# deliveries in one statement: an action's event costs one round trip, not
# three (an insert, the owner's endpoints, their deliveries). The rows come
# as one JSON document, `[[user id, type, payload], ...]`, which the server
# parses once. Passed as three arrays instead (psycopg adapts an array
# element by element), 1,000 position events of a fills call (519 bytes of
# payload each) took 358 ms (median of 8; 267-623) against 71 ms (52-100)
# for the document, timed alternately at load 7.6. The ids are taken in the
# rows' order (ORDER BY n), so event ids keep the order of the rows; it
# answers each new id, ascending, with how many deliveries it made in all.
RECORD_POSTGRESQL = """
WITH events AS (
    INSERT INTO delivery_event (user_id, type, payload, created_at)
    SELECT (r.item ->> 0)::uuid, r.item ->> 1, r.item -> 2, %(now)s
      FROM jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS r(item, n)
     ORDER BY r.n
    RETURNING id, user_id, type
), deliveries AS (
    INSERT INTO delivery_delivery (event_id, endpoint_id, status, attempts, tries, next_attempt_at, last_error,
                                   created_at)
    SELECT e.id, w.id, 'pending', 0, 0, %(now)s, '', %(now)s
      FROM events e JOIN delivery_webhookendpoint w ON w.owner_id = e.user_id
     WHERE w.enabled AND w.events @> jsonb_build_array(e.type)
    RETURNING 1
)
SELECT e.id, (SELECT count(*) FROM deliveries) FROM events e ORDER BY e.id
"""
