"""A bridge as the HTTP API sees it: signed JSON POSTs of the exact bytes
sent, and the bodies of its calls."""

import json
import time
from datetime import UTC

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from execution.models import Bridge
from machines import services as machine_services
from machines.authentication import signature_hex


class BridgeClient:
    def __init__(self, bridge, secret):
        self.api = APIClient()
        self.bridge, self.secret = bridge, secret

    def post(self, call, body=None, *, raw: bytes | None = None, key_id=None, secret=None, timestamp=None,
             key_header="HTTP_X_BRIDGE_ID", path=None, **extra):
        data = raw if raw is not None else json.dumps({} if body is None else body).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {key_header: key_id or self.bridge.key_id, "HTTP_X_TIMESTAMP": stamp,
                   "HTTP_X_SIGNATURE": "sha256=" + signature_hex(secret or self.secret, stamp, data), **extra}
        return self.api.generic("POST", path or f"/api/v1/bridge/{call}", data, content_type="application/json",
                                **headers)


def rfc3339(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fill_json(fill_id, *, entry="in", volume="0.10", price="1.08450", side="buy", position_ticket="9001",
              client_order_id=None, time=None, instrument="EURUSD", **money) -> dict:
    """One fill as a bridge sends it."""
    return {"fill_id": fill_id, "client_order_id": client_order_id, "ticket": f"o-{fill_id}",
            "position_ticket": position_ticket, "instrument": instrument, "side": side, "entry": entry,
            "volume": volume, "price": price, "time": rfc3339(time or timezone.now()),
            "commission": money.get("commission", "0"), "swap": money.get("swap", "0"),
            "profit": money.get("profit", "0")}


def account_json(*, time=None, equity="10000", positions=()) -> dict:
    return {"time": rfc3339(time or timezone.now()), "currency": "USD", "balance": "10000.00", "equity": equity,
            "margin_free": "9500.00", "positions": list(positions)}


def problem(response) -> dict:
    """The problem body without the two members that differ per request."""
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("request_id", "instance")}


# Fixtures, imported by the API tests' modules: a bridge with a real secret
# (it overrides the conftest's `bridge`, which has none).

@pytest.fixture
def bridge_and_secret(alice):
    return machine_services.create_client(model=Bridge, name="alice-mt5", owner=alice, account_ref="50123")


@pytest.fixture
def bridge(bridge_and_secret):
    return bridge_and_secret[0]


@pytest.fixture
def signed(bridge_and_secret):
    """alice's bridge, signing its calls."""
    return BridgeClient(*bridge_and_secret)
