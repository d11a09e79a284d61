"""OWASP API2 for machines: a signed request cannot be forged, altered,
replayed into a duplicate, or sent from a skewed clock."""

import json
import time

import pytest

from audit.models import AuditEntry
from charting.models import Candle, EquityPoint
from signals import services as signal_services
from signals.authentication import signature_hex
from signals.models import Signal
from tests.security.conftest import assert_problem, candle_body, equity_body, signal_body
from tradeplatform_client import sign

pytestmark = pytest.mark.django_db

SIGNED_PATHS = {"/api/v1/signals/": signal_body, "/api/v1/candles/": candle_body, "/api/v1/equity/": equity_body}


def test_replayed_signal_is_idempotent_never_a_duplicate(alice_engine):
    body = json.dumps(signal_body()).encode()
    stamp = int(time.time())
    first = alice_engine.post("/api/v1/signals/", raw=body, timestamp=stamp)
    assert first.status_code == 201
    for _ in range(3):  # the very same bytes, headers and signature, as a network replay would send them
        again = alice_engine.post("/api/v1/signals/", raw=body, timestamp=stamp)
        assert again.status_code == 200
        assert again["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
    assert Signal.objects.count() == 1


def test_replay_with_an_altered_body_is_401(alice_engine):
    original = json.dumps(signal_body()).encode()
    assert alice_engine.post("/api/v1/signals/", raw=original).status_code == 201
    tampered = original.replace(b'"buy"', b'"sell"').replace(b'"1.08000"', b'"1.09900"').replace(
        b'"1.09000"', b'"1.07000"')
    response = alice_engine.post("/api/v1/signals/", raw=tampered, signed_body=original)
    assert_problem(response, 401)
    assert Signal.objects.count() == 1


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_altered_body_is_401_on_every_signed_path(alice_engine, path):
    original = json.dumps(SIGNED_PATHS[path]()).encode()
    response = alice_engine.post(path, raw=original + b" ", signed_body=original)
    body = assert_problem(response, 401)
    assert body["type"].endswith("signature-invalid")
    assert (Signal.objects.count(), Candle.objects.count(), EquityPoint.objects.count()) == (0, 0, 0)


def test_signature_replayed_under_a_new_timestamp_is_401(alice_engine):
    body = json.dumps(signal_body()).encode()
    stamp = int(time.time()) - 10
    headers = sign(alice_engine.secret, stamp, body, key_id=alice_engine.key_id)
    response = alice_engine.api.generic(
        "POST", "/api/v1/signals/", body, content_type="application/json", HTTP_X_PRODUCER_ID=alice_engine.key_id,
        HTTP_X_TIMESTAMP=str(stamp + 5), HTTP_X_SIGNATURE=headers["X-Signature"])
    assert_problem(response, 401)


@pytest.mark.parametrize("path", SIGNED_PATHS)
# Just past the window, with a few seconds' margin: the server reads its
# clock after the test did, so on a loaded machine +301 could arrive as 299.
@pytest.mark.parametrize("skew", [305, -305, 3600, -86400])
def test_clock_skew_beyond_300_s_is_401(alice_engine, path, skew):
    response = alice_engine.post(path, SIGNED_PATHS[path](), timestamp=int(time.time()) + skew)
    body = assert_problem(response, 401)
    assert body["type"].endswith("timestamp-out-of-range")


@pytest.mark.parametrize("skew", [295, -295])
def test_clock_skew_within_300_s_is_accepted(alice_engine, skew):
    assert alice_engine.post("/api/v1/signals/", signal_body(), timestamp=int(time.time()) + skew).status_code == 201


@pytest.mark.parametrize("stamp", ["1e9", "-5", " 1700000000", "1700000000.5", "0x6553f100", "9" * 13, "", "\u0661\u0667"])
def test_malformed_timestamps_are_401(alice_engine, stamp):
    body = json.dumps(signal_body()).encode()
    response = alice_engine.api.generic(
        "POST", "/api/v1/signals/", body, content_type="application/json", HTTP_X_PRODUCER_ID=alice_engine.key_id,
        HTTP_X_TIMESTAMP=stamp, HTTP_X_SIGNATURE="sha256=" + signature_hex(alice_engine.secret, stamp, body)
        if stamp.isascii() else "sha256=00")
    assert_problem(response, 401)


def test_another_producers_key_id_with_my_secret_is_401(alice_engine, bob_engine):
    response = alice_engine.post("/api/v1/signals/", signal_body(), key_id=bob_engine.key_id)
    assert_problem(response, 401)
    assert not Signal.objects.exists()


def test_unknown_producer_and_bad_signature_are_indistinguishable(alice_engine):
    def comparable(response):
        body = response.json()
        return response.status_code, response["WWW-Authenticate"], {
            k: v for k, v in body.items() if k not in ("request_id", "instance")}

    unknown = alice_engine.post("/api/v1/signals/", signal_body(), key_id="prd_" + "0" * 24)
    bad = alice_engine.post("/api/v1/signals/", signal_body(), secret="not-the-secret")
    assert comparable(unknown) == comparable(bad)


def test_disabled_producer_and_retired_secret_are_401(alice_engine):
    new_secret = signal_services.rotate_producer_secret(producer=alice_engine.model, grace_seconds=0)
    assert_problem(alice_engine.signal(), 401)
    assert alice_engine.post("/api/v1/signals/", signal_body(), secret=new_secret).status_code == 201
    signal_services.disable_producer(producer=alice_engine.model)
    assert_problem(alice_engine.post("/api/v1/signals/", signal_body(), secret=new_secret), 401)


@pytest.mark.parametrize("path", ["/api/v1/candles/", "/api/v1/equity/"])
def test_replayed_market_data_upserts_without_duplicates(alice_engine, path):
    body = json.dumps(SIGNED_PATHS[path](count=30)).encode()
    stamp = int(time.time())
    assert alice_engine.post(path, raw=body, timestamp=stamp).json() == {"inserted": 30, "updated": 0}
    # The very same signed request again: the answer it had, and nothing written.
    assert alice_engine.post(path, raw=body, timestamp=stamp).json() == {"inserted": 30, "updated": 0}
    assert Candle.objects.count() + EquityPoint.objects.count() == 30


def test_refusals_are_audited_without_signature_or_body(alice_engine):
    body = signal_body(payload={"marker": "body-must-not-leak"})
    alice_engine.post("/api/v1/signals/", body, secret="wrong-secret")
    denied = AuditEntry.objects.get(action="signal.ingest_denied")
    recorded = json.dumps([denied.meta, denied.actor, denied.target_id])
    assert "body-must-not-leak" not in recorded and "sha256" not in recorded
    assert denied.status == "failure"


def test_a_jwt_does_not_open_signed_ingestion(alice, client_for):
    response = client_for(alice).post("/api/v1/signals/", signal_body(), format="json")
    assert_problem(response, 401)
    assert not Signal.objects.exists()
