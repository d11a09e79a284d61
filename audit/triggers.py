"""Append-only enforced by the database itself: triggers refuse
every UPDATE and DELETE of an audit row (and TRUNCATE on PostgreSQL), whoever
sends it: the ORM, the admin, or raw SQL through a cursor.

The statements live here, not inline in the migration, because the test
suite must lift them around Django's own `flush` (which empties every table
between transactional tests) and put them back. A change to them needs a new
migration that calls `install` again; so does any later migration that makes
SQLite rebuild the table (most `AlterField`s), since dropping the old table
drops its triggers.
"""

TABLE = "audit_auditentry"
MESSAGE = "audit entries are append-only"

SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END""",
    # `INSERT OR REPLACE` deletes the conflicting row without firing DELETE
    # triggers (unless recursive_triggers is on), which would be an edit in
    # disguise: refuse any insert that collides with an existing entry. Only
    # the unique keys (id, seq) can collide, and both are indexed: a column
    # without an index here would make every append scan the whole log.
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_replace BEFORE INSERT ON {TABLE}
        WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE seq = NEW.seq OR id = NEW.id)
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: REPLACE refused'); END""",
]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_{name}" for name in ("no_update", "no_delete", "no_replace")]

# `INSERT ... ON CONFLICT DO UPDATE` fires the UPDATE trigger, so PostgreSQL
# needs no counterpart of the SQLite insert trigger. Statement-level triggers
# refuse even an UPDATE or DELETE that matches no row, at no per-row cost.
POSTGRESQL_INSTALL = [
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
        END $$""",
    f"""CREATE OR REPLACE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()""",
    f"""CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()""",
]
POSTGRESQL_REMOVE = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE}",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {TABLE}_append_only()",
]

STATEMENTS = {
    "sqlite": (SQLITE_INSTALL, SQLITE_REMOVE),
    "postgresql": (POSTGRESQL_INSTALL, POSTGRESQL_REMOVE),
}


def _statements(connection, index):
    try:
        return STATEMENTS[connection.vendor][index]
    except KeyError:
        raise NotImplementedError(
            f"No append-only triggers for the {connection.vendor} database: the audit log "
            "supports SQLite and PostgreSQL."
        ) from None


def install(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection, 0):
            cursor.execute(statement)


def remove(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection, 1):
            cursor.execute(statement)
