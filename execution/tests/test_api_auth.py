"""Bridges sign their calls as producers do, with X-Bridge-Id: one mechanism
(machines/authentication.py), two kinds of client that never stand in for
each other. Every refusal is counted and audited without the secret or body."""

import io
import json
import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from prometheus_client import REGISTRY

from audit.models import AuditEntry
from execution.models import BridgeSecret
from execution.tests.bridge_api import (  # noqa: F401 (fixtures)
    BridgeClient,
    bridge,
    bridge_and_secret,
    problem,
    signed,
)
from machines import services as machine_services
from machines.authentication import signature_hex
from machines.crypto import decrypt
from signals import services as signal_services

pytestmark = pytest.mark.django_db


def rejected(reason):
    return REGISTRY.get_sample_value("bridge_requests_rejected_total", {"reason": reason}) or 0


def producer_rejected(reason):
    return REGISTRY.get_sample_value("signals_rejected_total", {"reason": reason}) or 0


def refused(response, slug):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Signature realm="bridges", headers="X-Bridge-Id X-Timestamp X-Signature"'
    assert response.json()["type"].endswith(slug)
    return response


@pytest.fixture
def producer_and_secret(alice):
    return signal_services.create_producer(name="alice-engine", owner=alice)


def test_a_signed_call_is_accepted(signed):
    assert signed.post("poll", {}).status_code == 200


def test_an_unknown_bridge_and_a_bad_signature_get_the_same_answer(signed, bridge):
    unknown = refused(signed.post("poll", {}, key_id="brg_000000000000000000000000"), "signature-invalid")
    bad = refused(signed.post("poll", {}, secret="not-the-secret"), "signature-invalid")
    assert problem(unknown) == problem(bad)
    assert unknown.content.replace(unknown.json()["request_id"].encode(), b"") == \
        bad.content.replace(bad.json()["request_id"].encode(), b"")


def test_a_disabled_bridge_is_refused_like_an_unknown_one(signed, bridge):
    unknown = signed.post("poll", {}, key_id="brg_000000000000000000000000")
    assert machine_services.disable_client(client=bridge)
    assert problem(refused(signed.post("poll", {}), "signature-invalid")) == problem(unknown)


@pytest.mark.parametrize("missing", ["HTTP_X_BRIDGE_ID", "HTTP_X_TIMESTAMP", "HTTP_X_SIGNATURE"])
def test_a_missing_header_is_401(signed, missing):
    before = rejected("missing_header")
    response = refused(signed.post("poll", {}, **{missing: ""}), "signature-missing")
    assert "X-Bridge-Id" in response.json()["detail"]
    assert rejected("missing_header") == before + 1


def test_a_stale_timestamp_is_401(signed):
    refused(signed.post("poll", {}, timestamp=int(time.time()) - 301), "timestamp-out-of-range")


def test_the_signature_covers_the_body(signed):
    body = json.dumps({"fills": []}).encode()
    stamp = str(int(time.time()))
    response = signed.api.generic("POST", "/api/v1/bridge/fills", body + b" ", content_type="application/json",
                                  HTTP_X_BRIDGE_ID=signed.bridge.key_id, HTTP_X_TIMESTAMP=stamp,
                                  HTTP_X_SIGNATURE="sha256=" + signature_hex(signed.secret, stamp, body))
    refused(response, "signature-invalid")


def test_a_producers_key_is_refused_on_a_bridge_call(signed, producer_and_secret):
    producer, secret = producer_and_secret
    # Its own header: a bridge call reads X-Bridge-Id only.
    refused(signed.post("poll", {}, key_header="HTTP_X_PRODUCER_ID", key_id=producer.key_id, secret=secret),
            "signature-missing")
    # Its key id as a bridge's: no bridge has it.
    refused(signed.post("poll", {}, key_id=producer.key_id, secret=secret), "signature-invalid")


def test_a_bridges_key_is_refused_on_a_producer_call(signed, bridge_and_secret, shipped_instruments):
    bridge, secret = bridge_and_secret
    for header in ("HTTP_X_PRODUCER_ID", "HTTP_X_BRIDGE_ID"):
        response = signed.post(None, {"instrument": "EURUSD"}, path="/api/v1/signals/", key_header=header)
        assert response.status_code == 401, response.content
        assert 'realm="producers"' in response["WWW-Authenticate"]


def test_refusals_are_audited_without_secret_or_body_and_counted_apart_from_producers(signed, bridge):
    before = (rejected("bad_signature"), rejected("unknown_bridge"), producer_rejected("bad_signature"))
    signed.post("fills", {"fills": [{"fill_id": "secret-body"}]}, secret="wrong-secret")
    signed.post("poll", {}, key_id="brg_nobody")
    assert (rejected("bad_signature"), rejected("unknown_bridge"), producer_rejected("bad_signature")) == (
        before[0] + 1, before[1] + 1, before[2])
    entries = list(AuditEntry.objects.filter(action="bridge.auth_denied").order_by("seq"))
    assert [(e.status, e.actor_type, e.meta) for e in entries] == [
        ("failure", "bridge", {"reason": "bad_signature", "key_id": bridge.key_id}),
        ("failure", "bridge", {"reason": "unknown_bridge", "key_id": "brg_nobody"}),
    ]
    assert "secret-body" not in json.dumps([e.meta for e in entries])
    assert not AuditEntry.objects.filter(action="signal.ingest_denied").exists()


def test_refusals_after_authentication_are_counted(signed):
    before = rejected("invalid"), rejected("not_found")
    signed.post("ack", {"command": "nope", "status": "accepted"})
    signed.post("ack", {"command": "00000000-0000-0000-0000-000000000000", "status": "accepted"})
    assert (rejected("invalid"), rejected("not_found")) == (before[0] + 1, before[1] + 1)


def test_the_refusal_budget_per_address_is_shared_with_producers(signed, producer_and_secret, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {**SimpleRateThrottle.THROTTLE_RATES, "signature_failure": "2/min"})
    producer, _ = producer_and_secret
    producer_call = BridgeClient(producer, "wrong")
    assert producer_call.post(None, {}, path="/api/v1/signals/", key_header="HTTP_X_PRODUCER_ID").status_code == 401
    assert signed.post("poll", {}, secret="wrong").status_code == 401
    throttled = signed.post("poll", {}, secret="wrong")
    assert throttled.status_code == 429 and "Retry-After" in throttled
    # A valid signature always passes: the budget counts refusals only.
    assert signed.post("poll", {}).status_code == 200


def test_a_rotated_bridge_secret_keeps_the_old_one_for_the_grace_period(signed, bridge):
    new_secret, _ = machine_services.rotate_secret(client=bridge, grace_seconds=60)
    assert signed.post("poll", {}).status_code == 200
    assert signed.post("poll", {}, secret=new_secret).status_code == 200
    machine_services.rotate_secret(client=bridge, grace_seconds=0)
    refused(signed.post("poll", {}, secret=new_secret), "signature-invalid")


@pytest.mark.parametrize("command", ["reencrypt_machine_secrets", "reencrypt_producer_secrets"])
def test_reencrypting_covers_bridge_and_producer_secrets(signed, bridge, producer_and_secret, settings, command):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    output = io.StringIO()
    call_command(command, stdout=output)
    assert output.getvalue().strip() == "Re-encrypted 2 secret(s)."
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is gone
    assert decrypt(BridgeSecret.objects.get(bridge=bridge).encrypted_secret) == signed.secret
    assert signed.post("poll", {}).status_code == 200
