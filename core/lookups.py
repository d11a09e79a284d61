"""Long `IN (...)` lookups in pieces: no query gets more values than
SQLite's historic limit of 999 parameters (PostgreSQL has no such limit; the
pieces cost it nothing worth measuring)."""

LOOKUP_CHUNK = 900


def chunks(values: list, size: int = LOOKUP_CHUNK):
    """`values` in consecutive slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start:start + size]
