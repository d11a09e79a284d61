"""OWASP API2 (broken authentication): forged, stale and misused JWTs are 401
with a Bearer challenge, never a way in."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.security.conftest import PASSWORD, assert_problem, bearer

pytestmark = pytest.mark.django_db

PROTECTED = ["/api/v1/me/", "/api/v1/signals/", "/api/v1/approvals/", "/api/v1/consent/current/"]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(user, **overrides):
    now = timezone.now()
    claims = {"token_type": "access", "exp": int((now + timedelta(minutes=5)).timestamp()),
              "iat": int(now.timestamp()), "jti": "f" * 32, "user_id": str(user.pk)}
    claims.update(overrides)
    return claims


def assert_unauthenticated(token, path="/api/v1/me/"):
    response = bearer(token).get(path)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "alice@example.com" not in response.content.decode()


def test_a_genuine_token_works(alice):
    assert bearer(alice).get("/api/v1/me/").json()["username"] == "alice"


@pytest.mark.parametrize("path", PROTECTED)
def test_alg_none_is_refused(alice, path):
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(alice))}."
    assert_unauthenticated(token, path)


def test_alg_none_variants_are_refused(alice):
    for alg in ("None", "NONE", "nOnE"):
        assert_unauthenticated(f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims_for(alice))}.")


def test_token_signed_with_another_key_is_refused(alice):
    assert_unauthenticated(jwt.encode(claims_for(alice), "not-the-server-key-" * 3, algorithm="HS256"))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the test's own forgery
def test_token_with_another_hmac_algorithm_is_refused(alice):
    # Right key, algorithm not on the server's list: no algorithm confusion.
    key = settings.SIMPLE_JWT["SIGNING_KEY"]
    assert_unauthenticated(jwt.encode(claims_for(alice), key, algorithm="HS512"))


def test_claims_swapped_under_a_genuine_signature_are_refused(alice, bob):
    header, _, signature = str(AccessToken.for_user(alice)).split(".")
    assert_unauthenticated(f"{header}.{b64(claims_for(bob))}.{signature}")


def test_expired_token_is_refused(alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert_unauthenticated(str(token))


def test_refresh_token_is_not_an_access_token(alice):
    assert_unauthenticated(str(RefreshToken.for_user(alice)))


def test_access_token_cannot_refresh(alice, anon):
    response = anon.post("/api/v1/auth/token/refresh/", {"refresh": str(AccessToken.for_user(alice))},
                               format="json")
    assert_problem(response, 401)


def test_token_of_a_deleted_user_is_refused(make_user):
    ghost = make_user("ghost")
    token = str(AccessToken.for_user(ghost))
    ghost.delete()
    assert_unauthenticated(token)


def test_token_of_a_deactivated_user_is_refused(alice):
    token = str(AccessToken.for_user(alice))
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_unauthenticated(token)


def test_refresh_of_a_deactivated_user_gives_no_new_access(alice, anon):
    refresh = str(RefreshToken.for_user(alice))
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    response = anon.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert_problem(response, 401)


def test_logged_out_refresh_token_is_refused(alice, anon):
    tokens = anon.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD},
                             format="json").json()
    assert anon.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 204
    response = anon.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert_problem(response, 401)


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a.b", "Bearer a.b.c.d", "Basic YWxpY2U6eA==",
                                    "Bearer \u00e9\u00e9\u00e9.\u00e9.\u00e9", "Bearer " + "A" * 8000])
def test_garbage_authorization_headers_are_401_not_500(anon, header, alice):
    response = anon.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    # "Basic ..." is not our scheme: that is simply no credentials, also a 401.
    assert_problem(response, 401)


def test_refresh_of_a_deleted_user_is_refused(make_user, anon):
    ghost = make_user("ghost")
    refresh = str(RefreshToken.for_user(ghost))
    ghost.delete()
    response = anon.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
