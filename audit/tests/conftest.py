import pytest
from django.db import connection

from audit import triggers
from audit.services import append_entry
from tests.fixtures import bearer


@pytest.fixture
def trader(make_user):
    return make_user("trader")


@pytest.fixture
def staff_api(superuser):
    return bearer(superuser)


@pytest.fixture
def trader_api(trader):
    return bearer(trader)


@pytest.fixture
def chain_of(db):
    """Appends n entries with distinct actions, returns them oldest first."""

    def make(n, **fields):
        return [append_entry(action=f"test.step{i}", target_type="thing", target_id=str(i), **fields)
                for i in range(1, n + 1)]

    return make


@pytest.fixture
def triggers_lifted(db):
    """What a forger with database access would do first. The test's own
    transaction undoes it; reinstalling makes that explicit."""
    triggers.remove(connection)
    yield
    triggers.install(connection)
