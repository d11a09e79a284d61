"""HMAC-signed requests, one test per check of docs/api.md#signed-requests."""

import io
import json
import time

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEntry
from signals import services
from signals.authentication import read_body_bounded
from machines.crypto import decrypt
from signals.models import ProducerSecret
from signals.tests.conftest import rfc3339, signal_body
from core.problems import PayloadTooLarge

pytestmark = pytest.mark.django_db


def rejected(reason):
    return REGISTRY.get_sample_value("signals_rejected_total", {"reason": reason}) or 0


def comparable(response):
    """The problem body without the two members that differ per request."""
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("request_id", "instance")}


def test_signed_request_is_accepted(signer):
    response = signer.post(signal_body())
    assert response.status_code == 201, response.content


def test_signature_covers_timestamp_dot_raw_body(signer, producer, secret):
    import hashlib
    import hmac

    raw = ('{"instrument":"eurusd","side":"sell","time":"%s","version":3,"entry_price":"1.1"}'
           % rfc3339(timezone.now())).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    response = signer.api.generic("POST", "/api/v1/signals/", raw, content_type="application/json",
                                  HTTP_X_PRODUCER_ID=producer.key_id, HTTP_X_TIMESTAMP=timestamp,
                                  HTTP_X_SIGNATURE=f"sha256={digest}")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("missing", ["HTTP_X_PRODUCER_ID", "HTTP_X_TIMESTAMP", "HTTP_X_SIGNATURE"])
def test_missing_header_is_401(signer, missing):
    before = rejected("missing_header")
    response = signer.post(signal_body(), **{missing: ""})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert "WWW-Authenticate" in response
    assert rejected("missing_header") == before + 1


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_stale_timestamp_is_401(signer, offset):
    before = rejected("stale_timestamp")
    response = signer.post(signal_body(), timestamp=int(time.time()) + offset)
    assert response.status_code == 401
    assert response.json()["type"].endswith("timestamp-out-of-range")
    assert rejected("stale_timestamp") == before + 1


@pytest.mark.parametrize("offset", [-290, 290])
def test_timestamp_inside_the_window_either_way_is_accepted(signer, offset):
    assert signer.post(signal_body(), timestamp=int(time.time()) + offset).status_code == 201


@pytest.mark.parametrize("timestamp", ["1.7e9", "-5", "now", "+1700000000"])
def test_non_integer_timestamp_is_401(signer, timestamp):
    assert signer.post(signal_body(), timestamp=timestamp).status_code == 401


def test_unknown_producer_and_bad_signature_answer_identically(signer, producer, trader):
    bad_signature = signer.post(signal_body(), secret="not-the-secret")
    unknown = signer.post(signal_body(), key_id="prd_doesnotexist")
    other_producer, _ = services.create_producer(name="disabled-engine", owner=trader)
    services.disable_producer(producer=other_producer)
    disabled = signer.post(signal_body(), key_id=other_producer.key_id)
    assert bad_signature.status_code == unknown.status_code == disabled.status_code == 401
    assert comparable(bad_signature) == comparable(unknown) == comparable(disabled)
    assert bad_signature["WWW-Authenticate"] == unknown["WWW-Authenticate"]
    assert bad_signature.json()["request_id"] != unknown.json()["request_id"]


def test_disabled_producer_with_right_signature_is_401(signer, producer):
    services.disable_producer(producer=producer)
    assert signer.post(signal_body()).status_code == 401


def test_signature_without_the_sha256_prefix_is_401(signer, producer, secret):
    body = json.dumps(signal_body()).encode()
    from signals.tests.conftest import signed_headers
    headers = signed_headers(producer.key_id, secret, body)
    unprefixed = headers["HTTP_X_SIGNATURE"].removeprefix("sha256=")
    response = signer.post(None, raw=body, HTTP_X_SIGNATURE=unprefixed, timestamp=headers["HTTP_X_TIMESTAMP"])
    assert response.status_code == 401


def test_tampered_body_is_401(signer, producer, secret):
    from signals.tests.conftest import signed_headers
    body = json.dumps(signal_body()).encode()
    headers = signed_headers(producer.key_id, secret, body)
    response = signer.api.generic("POST", "/api/v1/signals/", body.replace(b"1.08450", b"1.08460"),
                                  content_type="application/json", **headers)
    assert response.status_code == 401


def test_denial_is_audited_without_body_or_signature(signer):
    before = rejected("bad_signature")
    response = signer.post(signal_body(payload={"marker": "body-marker"}), secret="wrong")
    assert response.status_code == 401
    assert rejected("bad_signature") == before + 1
    entry = AuditEntry.objects.get(action="signal.ingest_denied")
    assert entry.status == "failure"
    assert entry.meta == {"reason": "bad_signature", "key_id": signer.producer.key_id}
    stored = json.dumps(AuditEntry.objects.filter(pk=entry.pk).values()[0], default=str)
    assert "body-marker" not in stored and "sha256=" not in stored


def test_body_over_64_kib_is_413_before_it_is_read(signer):
    body = signal_body(payload={"blob": "x" * (64 * 1024)})
    response = signer.post(body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


def test_body_longer_than_its_claim_is_read_only_up_to_the_cap():
    """A body that is larger than the cap is never read whole (e.g. a chunked
    upload a server hands over without Content-Length)."""
    stream = io.BytesIO(b"x" * 10_000)
    http_request = WSGIRequest({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/signals/",
                                "CONTENT_LENGTH": "10000", "wsgi.input": stream})
    with pytest.raises(PayloadTooLarge):
        read_body_bounded(Request(http_request), 100)
    assert stream.tell() == 101


def test_secret_is_encrypted_at_rest(producer, secret):
    stored = ProducerSecret.objects.get(producer=producer)
    assert secret not in stored.encrypted_secret
    assert decrypt(stored.encrypted_secret) == secret


def test_encryption_key_can_rotate(settings, producer, secret, signer):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    assert signer.post(signal_body(version=1)).status_code == 201  # old key still decrypts
    call_command("reencrypt_producer_secrets", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert signer.post(signal_body(version=2)).status_code == 201


def test_rotation_keeps_the_old_secret_for_the_grace_period(signer, producer, secret):
    new_secret = services.rotate_producer_secret(producer=producer)
    assert new_secret != secret
    assert signer.post(signal_body(version=1)).status_code == 201
    assert signer.post(signal_body(version=2), secret=new_secret).status_code == 201
    old = ProducerSecret.objects.filter(producer=producer, not_after__isnull=False).get()
    assert abs((old.not_after - old.created_at).total_seconds() - 86400) < 60


def test_old_secret_stops_after_the_grace_period(signer, producer, secret):
    new_secret = services.rotate_producer_secret(producer=producer, grace_seconds=0)
    assert signer.post(signal_body(version=1)).status_code == 401
    assert signer.post(signal_body(version=1), secret=new_secret).status_code == 201


def test_producer_lifecycle_is_audited(producer, secret):
    new_secret = services.rotate_producer_secret(producer=producer, grace_seconds=60)
    services.disable_producer(producer=producer)
    actions = list(AuditEntry.objects.filter(target_id=str(producer.pk)).order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["producer.create", "producer.rotate", "producer.disable"]
    for entry in AuditEntry.objects.filter(target_id=str(producer.pk)):
        assert secret not in json.dumps(entry.meta) and new_secret not in json.dumps(entry.meta)


def test_refusals_past_the_address_budget_are_429_audited_once_and_spare_valid_producers(signer, now_body,
                                                                                        monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {**SimpleRateThrottle.THROTTLE_RATES, "signature_failure": "2/min"})
    limited, throttled = rejected("rate_limited"), rejected("throttled")
    statuses = [signer.post(signal_body(), secret="forged").status_code for _ in range(5)]
    assert statuses == [401, 401, 429, 429, 429]
    # Each refusal is counted once, under the reason that refused it.
    assert (rejected("rate_limited") - limited, rejected("throttled") - throttled) == (3, 0)
    refused = signer.post(signal_body(), secret="forged")
    assert 0 < int(refused["Retry-After"]) <= 60
    denials = list(AuditEntry.objects.filter(action="signal.ingest_denied").order_by("seq")
                   .values_list("meta__reason", flat=True))
    assert denials == ["bad_signature", "bad_signature", "rate_limited"]  # not one per refusal
    # The same address, the right secret: still verified, still accepted.
    assert signer.post(now_body()).status_code == 201
    assert signer.post(signal_body(), REMOTE_ADDR="192.0.2.50", secret="forged").status_code == 401


def test_forged_signatures_from_one_ipv6_64_share_the_refusal_budget(signer, monkeypatch):
    # One IPv6 client holds a whole /64 (2^64 addresses): a budget per single
    # address lets it send forged requests, each audited under the chain's
    # lock, without end, which the budget exists to prevent.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {**SimpleRateThrottle.THROTTLE_RATES, "signature_failure": "2/min"})
    statuses = [signer.post(signal_body(), secret="forged", REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code
                for n in range(1, 5)]
    assert statuses == [401, 401, 429, 429]
