"""Actors the whole suite shares (registered by the root conftest's
`pytest_plugins`): users, the shipped instruments, and API clients that
authenticate as outside callers do. App conftests keep what is their own."""

from importlib import import_module

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

PASSWORD = "correct-horse-battery-staple"


def bearer(user_or_token) -> APIClient:
    """A client carrying a real access token of a user (or the raw token
    given), as a mobile app would: the production authentication path runs,
    and no login is audited."""
    token = user_or_token if isinstance(user_or_token, str) else str(AccessToken.for_user(user_or_token))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def shipped_instruments(db):
    """The whitelist the data migration ships; transactional tests flush it,
    so it is put back for them."""
    from django.apps import apps

    import_module("signals.migrations.0002_ship_instruments").ship(apps, None)


@pytest.fixture
def make_user(db):
    """`make_user(username, is_staff=..., is_superuser=...)`; every password is PASSWORD."""

    def make(username, **fields):
        return get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, **fields)

    return make


@pytest.fixture
def client_for():
    return bearer


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def operator(make_user):
    return make_user("operator", is_staff=True)


@pytest.fixture
def superuser(make_user):
    """The console's most powerful operator: even they cannot rewrite a decision or an audit entry."""
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def worker_clock(monkeypatch):
    """The clock of what workers keep (core/worker_cache.py), moved
    by hand: `worker_clock[0] += seconds`."""
    from core import worker_cache

    now = [1000.0]
    monkeypatch.setattr(worker_cache, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def consent_v1(db):
    """The consent text approvals are made under (transactional tests flush
    the one the migrations ship)."""
    from django.utils import timezone

    from approvals.models import ConsentText

    return ConsentText.objects.get_or_create(version="1", defaults={"text": "Consent v1.",
                                                                   "published_at": timezone.now()})[0]
