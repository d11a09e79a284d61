"""Logout ends the session: its refresh token and every access token issued
in it are refused from then on, and the user's other sessions go on."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import EndedSession
from tests.fixtures import PASSWORD, bearer

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def log_in(username="alice"):
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def log_out(refresh):
    return APIClient().post("/api/v1/auth/logout/", {"refresh": refresh}, format="json")


def refresh(refresh_token):
    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh_token}, format="json")
    assert response.status_code == 200
    return response.json()


def test_after_logout_the_sessions_access_tokens_are_refused(alice, settings):
    settings.WORKER_CACHE_SECONDS = 60  # the worker that logs out forgets what it kept at once
    first = log_in()
    second = refresh(first["refresh"])
    assert bearer(first["access"]).get(ME).status_code == 200
    assert bearer(second["access"]).get(ME).status_code == 200

    assert log_out(second["refresh"]).status_code == 204

    for access in (first["access"], second["access"]):
        refused = bearer(access).get(ME)
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert refused["Content-Type"] == "application/problem+json"


def test_logout_leaves_the_users_other_sessions_alone(alice):
    phone, laptop = log_in(), log_in()
    assert log_out(laptop["refresh"]).status_code == 204
    assert bearer(phone["access"]).get(ME).status_code == 200
    assert refresh(phone["refresh"])["access"]


def end_elsewhere(tokens):
    # As another worker process would: this process is not told.
    EndedSession.objects.bulk_create([EndedSession(session_id=AccessToken(tokens["access"])["sid"],
                                                   ended_at=timezone.now())])


def test_another_workers_logout_is_seen_within_the_cache_seconds(alice, settings, worker_clock):
    settings.WORKER_CACHE_SECONDS = 2
    tokens = log_in()
    client = bearer(tokens["access"])
    assert client.get(ME).status_code == 200
    end_elsewhere(tokens)
    assert client.get(ME).status_code == 200
    worker_clock[0] += 2.01
    assert client.get(ME).status_code == 401


def test_ended_sessions_are_kept_only_while_their_access_tokens_live(alice, settings):
    old = EndedSession.objects.create(session_id="a" * 32,
                                      ended_at=timezone.now() - settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
                                      - timedelta(seconds=1))
    tokens = log_in()
    assert log_out(tokens["refresh"]).status_code == 204
    assert not EndedSession.objects.filter(pk=old.pk).exists()
    assert EndedSession.objects.count() == 1
