"""Every API error is a problem+json document, DEBUG on or off."""

import json

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_with_faults")]

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response, status, slug):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["type"].endswith(f"/problems/{slug}")
    assert body["request_id"] == response["X-Request-ID"]
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    return body


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/token/", "{not json", content_type="application/json")
    assert_problem(response, 400, "malformed-request")


def test_wrong_content_type_is_415(client):
    response = client.post("/api/v1/auth/token/", "username=a", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported-media-type")


def test_body_over_the_cap_is_413_before_the_view_runs(client, settings):
    body = json.dumps({"username": "a", "password": "x" * (settings.API_MAX_BODY_BYTES + 10)})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert_problem(response, 413, "payload-too-large")


def test_validation_error_is_422_with_field_map(client):
    response = client.post("/api/v1/auth/token/", {}, content_type="application/json")
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"] == {"username": ["This field is required."], "password": ["This field is required."]}


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_route_is_404_problem(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/no-such-thing/")
    body = assert_problem(response, 404, "not-found")
    assert body["instance"] == "/api/v1/no-such-thing/"


def test_wrong_method_is_405_problem_with_allow(client):
    response = client.delete("/api/v1/auth/token/")
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response["Allow"]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/test/drf-crash/", "/api/v1/test/plain-crash/"])
def test_crash_is_500_problem_without_traceback(client, debug, path):
    client.raise_request_exception = False
    with override_settings(DEBUG=debug):
        response = client.get(path)
    assert_problem(response, 500, "internal-error")


def test_database_failure_is_503_with_retry_after(client):
    response = client.get("/api/v1/test/database-down/")
    assert_problem(response, 503, "service-unavailable")
    assert response["Retry-After"]


def test_flatten_nested_errors_uses_dotted_paths():
    from core.problems import flatten_errors

    nested = {"candles": [{}, {}, {}, {"high": ["too low"]}], "payload": {"a": ["bad"]}, "side": ["required"]}
    assert flatten_errors(nested) == {"candles.3.high": ["too low"], "payload.a": ["bad"], "side": ["required"]}
