"""Raw SQL whose rows read exactly as the ORM reads them.

For the few reads on a hot path where building the ORM's query costs more
CPU than the database takes to answer it (a new order's checks:
execution/sql.py says why). The SQL is written out; each column is
converted by the ORM's own converters for the model field it holds, so
SQLite's numbers and text times come back as PostgreSQL's do: Decimals at
the field's places, aware datetimes, UUIDs, booleans.
"""

from collections.abc import Mapping, Sequence

from django.db import connection
from django.db.models import Field


def param(field: Field, value):
    """`value` as a parameter compared with `field`'s column (a UUID as
    SQLite stores it, a time in UTC)."""
    return field.get_db_prep_value(value, connection, prepared=False)


def fetch(sql: str, params: Mapping, columns: Sequence[Field | None]) -> list[list]:
    """The rows of `sql` (named `%(name)s` parameters, made with `param`),
    the value in each column converted as the ORM converts the model field
    at its place in `columns` (None: as the database gives it, e.g. a count)."""
    compiler = connection.ops.compiler("SQLCompiler")(None, connection, connection.alias)
    converters = compiler.get_converters(
        [None if field is None else field.get_col(field.model._meta.db_table) for field in columns])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return list(compiler.apply_converters(rows, converters))
