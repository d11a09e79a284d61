import json
import time
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from signals import services
from signals.authentication import signature_hex


@pytest.fixture
def trader(db, shipped_instruments):
    return get_user_model().objects.create_user("trader", "trader@example.com", "trader-pass-1234")


@pytest.fixture
def producer_and_secret(trader):
    return services.create_producer(name="alpha-engine", owner=trader)


@pytest.fixture
def producer(producer_and_secret):
    return producer_and_secret[0]


@pytest.fixture
def secret(producer_and_secret):
    return producer_and_secret[1]


def signed_headers(key_id: str, secret: str, body: bytes, *, timestamp=None) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"HTTP_X_PRODUCER_ID": key_id, "HTTP_X_TIMESTAMP": timestamp,
            "HTTP_X_SIGNATURE": "sha256=" + signature_hex(secret, timestamp, body)}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# When the signals of signal_body() were produced: the start of the running
# test (set below), so they are live when they arrive, and every call within
# one test makes the same dedup key.
produced_at = timezone.now()


@pytest.fixture(autouse=True)
def _signals_produced_at_test_start(monkeypatch):
    monkeypatch.setattr(f"{__name__}.produced_at", timezone.now())


def signal_body(**overrides) -> dict:
    """A valid EURUSD buy produced at `produced_at`; `...` leaves a field out."""
    body = {"instrument": "EURUSD", "side": "buy", "time": rfc3339(produced_at), "version": 1,
            "entry_price": "1.08450", "stop_loss": "1.08000", "take_profit": "1.09000",
            "payload": {"rsi": 28.5}}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


class SignedClient:
    """Posts signals as a producer would: the exact bytes that are signed."""

    def __init__(self, producer, secret):
        self.api = APIClient()
        self.producer, self.secret = producer, secret

    def post(self, body, *, raw: bytes | None = None, key_id=None, secret=None, timestamp=None,
             content_type="application/json", **extra):
        data = raw if raw is not None else json.dumps(body).encode()
        headers = signed_headers(key_id or self.producer.key_id, secret or self.secret, data, timestamp=timestamp)
        headers.update(extra)
        return self.api.generic("POST", "/api/v1/signals/", data, content_type=content_type, **headers)


@pytest.fixture
def signer(producer, secret):
    return SignedClient(producer, secret)


@pytest.fixture
def now_body():
    """A signal produced just now (so it is still pending)."""
    def make(**overrides):
        return signal_body(time=rfc3339(timezone.now()), **overrides)
    return make
