import pytest
from django.core.cache import cache
from django.db import connection


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached charts must not leak from one test to the next."""
    cache.clear()
    yield


def pytest_collection_modifyitems(config, items):
    """Tests of races, locks and triggers that only PostgreSQL shows run in the
    PostgreSQL pass of CI (`DATABASE_URL=postgres://...`)."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
