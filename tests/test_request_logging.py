"""X-Request-ID in and out; one JSON access line per request,
never a password, token or body."""

import json
import logging

import pytest

from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def test_sane_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.XYZ_9")
    assert response["X-Request-ID"] == "abc-123.XYZ_9"


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "semi;colon", "ünïcode"])
def test_insane_request_id_is_replaced(client, bad):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_each_request_gets_its_own_id(client):
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def formatted_lines(caplog):
    from core.logging import JsonFormatter

    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_access_line_has_the_fields_and_no_secrets(api, user, caplog):
    caplog.set_level(logging.INFO)
    response = api.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json",
                        HTTP_X_REQUEST_ID="req-42")
    access_token = response.json()["access"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    api.get("/api/v1/me/?token=query-secret", HTTP_X_REQUEST_ID="req-43")

    lines = formatted_lines(caplog)
    text = json.dumps(lines)
    for secret in (PASSWORD, access_token, response.json()["refresh"], "query-secret"):
        assert secret not in text
    access = [line for line in lines if line["logger"] == "tradeplatform.access"]
    assert len(access) == 2
    login, me = access
    assert login["request_id"] == "req-42" and login["method"] == "POST" and login["status"] == 200
    assert me["request_id"] == "req-43" and me["path"] == "/api/v1/me/" and me["principal"] == "user:alice"
    assert isinstance(me["duration_ms"], float)


def test_failed_login_logs_no_password(api, user, caplog):
    caplog.set_level(logging.DEBUG)
    api.post("/api/v1/auth/token/", {"username": "alice", "password": "Wr0ng-Pa55-xyz"}, format="json")
    assert "Wr0ng-Pa55-xyz" not in json.dumps(formatted_lines(caplog))
