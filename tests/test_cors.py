"""Browser front ends on the origins an operator lists (CORS_ALLOWED_ORIGINS)
may call the API; nobody else's page may read its answers."""

import pytest

from tests.fixtures import bearer

APP = "https://app.example.com"


def preflight(client, origin, headers="authorization, if-none-match"):
    return client.options("/api/v1/signals/", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers)


@pytest.fixture
def app_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]


def test_a_listed_origin_passes_the_preflight_with_the_polling_headers(client, app_origin):
    response = preflight(client, APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "if-none-match", "last-event-id"} <= allowed
    assert "Access-Control-Allow-Credentials" not in response  # bearer tokens, never cookies


@pytest.mark.django_db
def test_a_listed_origin_reads_the_answer_and_its_etag(alice, app_origin):
    response = bearer(alice).get("/api/v1/signals/", HTTP_ORIGIN=APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "etag" in response["Access-Control-Expose-Headers"].lower()


@pytest.mark.django_db
def test_another_origin_gets_no_cors_headers(alice, client, app_origin):
    assert "Access-Control-Allow-Origin" not in preflight(client, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in bearer(alice).get("/api/v1/signals/", HTTP_ORIGIN="https://evil.example")


def test_no_origin_is_allowed_by_default(client, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    assert "Access-Control-Allow-Origin" not in preflight(client, APP)


def test_the_console_is_never_cross_origin(client, app_origin):
    response = client.options("/admin/login/", HTTP_ORIGIN=APP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "Access-Control-Allow-Origin" not in response
