"""OWASP API8 (security misconfiguration) and API9 (inventory): production
headers, no cross-origin reads, operational endpoints closed to outsiders,
and nothing answered outside the published API."""

import pytest
from django.conf import settings
from django.test import override_settings

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
                                  "/api/v1/bridges/", "/api/v1/audit/1/", "/api/v1/../../etc/passwd"])
def test_unpublished_paths_are_404_problems(alice, path):
    assert_problem(bearer(alice).get(path), 404)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/no-such-page/",                         # no route matches
                                  f"/{settings.ADMIN_URL}no-such-app/"])    # the console's own view raises Http404
def test_pages_outside_the_api_get_a_plain_404_that_names_no_route(client, superuser, path, debug):
    # Django's DEBUG 404 page lists every URL pattern, the console's path
    # among them; `make run` serves with DEBUG on, so it must not show it.
    client.force_login(superuser)
    with override_settings(DEBUG=debug):
        response = client.get(path, secure=True)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for route in (settings.ADMIN_URL, "api/v1/", "api/schema/", "metrics", "URLconf"):
        assert route not in page
    assert "Not Found" in page


def test_admin_is_not_reachable_with_an_api_token(alice, operator):
    # The console takes staff sessions only; a Bearer token (even a staff one) does not log in.
    response = bearer(operator).get("/admin/", secure=True)
    assert response.status_code == 302 and "/login/" in response["Location"]
