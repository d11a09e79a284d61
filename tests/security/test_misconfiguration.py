"""OWASP API8 (security misconfiguration) and API9 (inventory): production
headers, no cross-origin reads, operational endpoints closed to outsiders,
and nothing answered outside the published API."""

import pytest

from tests.security.conftest import assert_problem, bearer

pytestmark = pytest.mark.django_db


def test_production_security_headers(alice, settings):
    settings.SECURE_SSL_REDIRECT = True
    client = bearer(alice)
    assert client.get("/api/v1/me/").status_code == 301  # plain HTTP is redirected, never served
    response = client.get("/api/v1/me/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "Access-Control-Allow-Origin" not in response


def test_no_cross_origin_reads(alice):
    response = bearer(alice).options("/api/v1/signals/", HTTP_ORIGIN="https://evil.example",
                                     HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("forwarded", [None, "127.0.0.1", "10.0.0.1, 127.0.0.1"])
def test_metrics_are_hidden_from_outside_addresses(client, forwarded):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    # A public peer cannot talk its way in with X-Forwarded-For: no proxy is trusted.
    assert_problem(client.get("/metrics", REMOTE_ADDR="203.0.113.9", **extra), 404)
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.parametrize("path", ["/api/v2/signals/", "/api/v1/admin/", "/api/v1/users/",
                                  "/api/v1/producers/", "/api/v1/audit/1/", "/api/v1/../../etc/passwd"])
def test_unpublished_paths_are_404_problems(alice, path):
    assert_problem(bearer(alice).get(path), 404)


def test_admin_is_not_reachable_with_an_api_token(alice, operator):
    # The console takes staff sessions only; a Bearer token (even a staff one) does not log in.
    response = bearer(operator).get("/admin/", secure=True)
    assert response.status_code == 302 and "/login/" in response["Location"]
