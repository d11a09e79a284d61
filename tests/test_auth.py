"""JWT for people (docs/api.md#logins)."""

import time

import jwt
import pytest
from django.conf import settings

from tests.fixtures import PASSWORD, bearer

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def test_token_pair_opens_me(api, tokens, user):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {"id": str(user.pk), "username": "alice", "email": "alice@example.com",
                                "is_staff": False}


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Token abc", "Bearer "])
def test_missing_or_bad_token_is_401_with_www_authenticate(api, user, authorization):
    if authorization:
        api.credentials(HTTP_AUTHORIZATION=authorization)
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Content-Type"] == "application/problem+json"


def test_expired_token_is_401(api, user):
    now = int(time.time())
    expired = jwt.encode({"token_type": "access", "exp": now - 10, "iat": now - 1000, "jti": "x",
                          "user_id": str(user.pk)}, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_a_token_accepted_before_is_refused_once_it_has_expired(api, tokens, time_machine):
    """Each worker keeps the tokens it verified (accounts/caches.py); the
    expiry of a kept one is checked all the same."""
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.get("/api/v1/me/").status_code == 200
    assert api.get("/api/v1/me/").status_code == 200  # kept
    time_machine.move_to(jwt.decode(tokens["access"], options={"verify_signature": False})["exp"] + 1)
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_unknown_user_and_wrong_password_look_the_same(api, user):
    unknown = api.post(TOKEN_URL, {"username": "mallory", "password": "x"}, format="json")
    wrong = api.post(TOKEN_URL, {"username": "alice", "password": "x"}, format="json")
    assert unknown.status_code == wrong.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(unknown) == strip(wrong)


def test_refresh_rotates_and_the_old_refresh_is_refused(api, tokens):
    first = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    again = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401


def test_logout_blacklists_the_refresh_token(api, tokens):
    response = api.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    refused = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refused.status_code == 401
    assert api.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_logout_with_garbage_is_401_and_missing_field_422(api, user):
    assert api.post("/api/v1/auth/logout/", {"refresh": "garbage"}, format="json").status_code == 401
    response = api.post("/api/v1/auth/logout/", {}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"] == {"refresh": ["This field is required."]}


def test_access_token_is_not_accepted_as_refresh(api, tokens):
    response = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["access"]}, format="json")
    assert response.status_code == 401


def test_failed_logins_per_username_are_throttled(api, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for attempt in range(3):
        # Each attempt from a different address: the per-username budget must still trip.
        response = api.post(TOKEN_URL, {"username": "alice", "password": "nope"}, format="json",
                            REMOTE_ADDR=f"10.0.0.{attempt + 1}")
        assert response.status_code == 401
    blocked = api.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json",
                       REMOTE_ADDR="10.0.0.99")
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert blocked["Content-Type"] == "application/problem+json"


def test_failed_logins_per_address_are_throttled(api, user, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for name in ("a", "b", "c"):
        assert api.post(TOKEN_URL, {"username": name, "password": "x"}, format="json").status_code == 401
    response = api.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 429


def test_successful_logins_do_not_count_against_the_limit(api, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(5):
        assert api.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json").status_code == 200


def test_inactive_user_gets_no_token(api, user):
    user.is_active = False
    user.save()
    assert api.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json").status_code == 401


def test_refresh_token_is_not_accepted_as_access(api, tokens):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['refresh']}")
    assert api.get("/api/v1/me/").status_code == 401


def deactivate_elsewhere(user):
    # As another worker process would: this process is not told.
    type(user).objects.filter(pk=user.pk).update(is_active=False)


def test_another_workers_deactivation_is_seen_within_the_cache_seconds(user, settings, worker_clock):
    settings.WORKER_CACHE_SECONDS = 2
    client = bearer(user)
    assert client.get("/api/v1/me/").status_code == 200
    deactivate_elsewhere(user)
    assert client.get("/api/v1/me/").status_code == 200
    worker_clock[0] += 2.01
    assert client.get("/api/v1/me/").status_code == 401


def test_with_no_cache_seconds_a_deactivation_is_seen_at_once(user, settings):
    settings.WORKER_CACHE_SECONDS = 0
    client = bearer(user)
    assert client.get("/api/v1/me/").status_code == 200
    deactivate_elsewhere(user)
    assert client.get("/api/v1/me/").status_code == 401


def test_this_processs_deactivation_applies_at_once(user, settings):
    settings.WORKER_CACHE_SECONDS = 60
    client = bearer(user)
    assert client.get("/api/v1/me/").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 401
