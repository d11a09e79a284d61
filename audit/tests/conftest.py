import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from audit import triggers
from audit.services import append_entry

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def make_user(db):
    def make(username, **fields):
        return get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, **fields)

    return make


@pytest.fixture
def operator(make_user):
    return make_user("operator", is_staff=True, is_superuser=True)


@pytest.fixture
def trader(make_user):
    return make_user("trader")


def bearer_client(user):
    """A client holding a real access token (not force_authenticate), so the
    production authentication path runs, without auditing a login."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def staff_api(operator):
    return bearer_client(operator)


@pytest.fixture
def trader_api(trader):
    return bearer_client(trader)


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
