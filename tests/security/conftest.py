"""Actors of the hostile-input tests: two traders who must never see each
other's things, an operator, a producer per trader, and clients that talk to
the API exactly as outside callers do (Bearer tokens, HMAC-signed bytes)."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from rest_framework.test import APIClient

from approvals.selectors import current_consent
from signals import services as signal_services
from tests.fixtures import PASSWORD, bearer  # noqa: F401 (the test modules import them from here)
from tradeplatform_client import sign

PROBLEM = "application/problem+json"


@pytest.fixture
def make_user(make_user, shipped_instruments):
    """The suite's `make_user`, with the shipped instruments in place for
    the signals these users' engines send."""
    return make_user


class Producer:
    """A strategy engine: signs the exact bytes it sends with the stdlib client
    module strategy authors copy (`tradeplatform_client.sign`)."""

    def __init__(self, model, secret):
        self.model, self.key_id, self.secret = model, model.key_id, secret
        self.api = APIClient()

    def post(self, path, body=None, *, raw: bytes | None = None, timestamp=None, key_id=None, secret=None,
             signed_body: bytes | None = None, content_type="application/json", **extra):
        """POST `body` (JSON-encoded here) or `raw` bytes, signed; `signed_body`
        signs other bytes than those sent (a tampered request)."""
        data = raw if raw is not None else json.dumps(body).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = sign(secret or self.secret, stamp, data if signed_body is None else signed_body,
                       key_id=key_id or self.key_id)
        meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
        return self.api.generic("POST", path, data, content_type=content_type, **meta, **extra)

    def signal(self, **overrides):
        return self.post("/api/v1/signals/", signal_body(**overrides))


@pytest.fixture
def alice_engine(alice):
    return Producer(*signal_services.create_producer(name="alice-engine", owner=alice))


@pytest.fixture
def bob_engine(bob):
    return Producer(*signal_services.create_producer(name="bob-engine", owner=bob))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_versions = iter(range(1, 10**9))


def signal_body(**overrides) -> dict:
    """A valid, still pending EURUSD buy; every call a new dedup key."""
    body = {"instrument": "EURUSD", "side": "buy", "time": iso(datetime.now(timezone.utc)),
            "version": next(_versions), "entry_price": "1.08450", "stop_loss": "1.08000",
            "take_profit": "1.09000", "payload": {"rsi": 28.5}}
    body.update(overrides)
    return body


def candle_body(count=20, *, instrument="EURUSD", timeframe="H1"):
    """The last `count` hourly bars up to now (so a signal of now has candles around it)."""
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=count - 1)
    candles = [{"time": iso(start + timedelta(hours=i)), "open": "1.08000", "high": "1.08100", "low": "1.07900",
                "close": "1.08050", "volume": "10"} for i in range(count)]
    return {"instrument": instrument, "timeframe": timeframe, "candles": candles}


def equity_body(count=20):
    start = datetime(2026, 11, 2, tzinfo=timezone.utc)
    return {"points": [{"time": iso(start + timedelta(days=i)), "equity": f"{10000 + 37 * i}.00",
                        "balance": f"{10000 + 30 * i}.00"} for i in range(count)]}


@pytest.fixture
def alice_signal(alice_engine):
    """A pending signal in alice's feed, ingested through the API."""
    response = alice_engine.signal()
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def consent_version(db):
    return current_consent().version


@pytest.fixture
def alice_approval(alice, alice_signal, consent_version):
    response = bearer(alice).post("/api/v1/approvals/", {"signal": alice_signal["id"], "decision": "approved",
                                                          "consent_version": consent_version}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def alice_market_data(alice_engine):
    """Candles for EURUSD H1 and an equity curve for alice."""
    assert alice_engine.post("/api/v1/candles/", candle_body()).status_code == 200
    assert alice_engine.post("/api/v1/equity/", equity_body()).status_code == 200


def assert_problem(response, status):
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    return body


def assert_refused(response):
    """A hostile request is refused with a 4xx problem: never a 5xx, never a crash."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith(PROBLEM)
    text = response.content.decode("utf-8", "replace")
    assert "Traceback" not in text and "RecursionError" not in text
    return response.json()
