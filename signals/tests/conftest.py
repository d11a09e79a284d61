import json
import time

import pytest
from django.contrib.auth import get_user_model
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


def signal_body(**overrides) -> dict:
    body = {"instrument": "EURUSD", "side": "buy", "time": "2026-01-01T00:00:00Z", "version": 1,
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
        from django.utils import timezone
        return signal_body(time=timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **overrides)
    return make
