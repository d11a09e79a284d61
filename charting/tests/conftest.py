import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from charting import services
from signals import services as signal_services
from signals.authentication import signature_hex
from signals.models import Instrument

START = datetime(2026, 11, 2, tzinfo=timezone.utc)  # a Monday


@pytest.fixture
def eurusd(db):
    return Instrument.objects.get(symbol="EURUSD")


def candle_rows(n, *, start=START, step=timedelta(hours=1), price=Decimal("1.08000"), drift=Decimal("0.00010")):
    """`n` well-formed bars, gently rising, every `step` from `start`."""
    rows = []
    for i in range(n):
        open_ = price + drift * i
        close = open_ + drift * (1 if i % 3 else -1)
        rows.append({"time": start + step * i, "open": open_, "close": close,
                     "high": max(open_, close) + Decimal("0.00020"), "low": min(open_, close) - Decimal("0.00020"),
                     "volume": Decimal(100 + i)})
    return rows


@pytest.fixture
def make_candles(eurusd):
    def make(n=60, *, instrument=eurusd, timeframe="H1", **kwargs):
        return services.upsert_candles(instrument=instrument, timeframe=timeframe, candles=candle_rows(n, **kwargs))

    return make


def equity_rows(days, *, start=START, equity=Decimal("10000")):
    """Four points a day; the equity moves a little every point."""
    rows = []
    for i in range(days * 4):
        equity += Decimal((i * 37) % 11 - 5) * Decimal("3.5")
        rows.append({"time": start + timedelta(hours=6 * i), "equity": equity, "balance": equity.quantize(10)})
    return rows


@pytest.fixture
def make_equity():
    def make(owner, days=20, **kwargs):
        return services.upsert_equity_points(owner=owner, points=equity_rows(days, **kwargs))

    return make


@pytest.fixture
def producer_and_secret(alice):
    return signal_services.create_producer(name="alice-engine", owner=alice)


@pytest.fixture
def make_signal(producer_and_secret, eurusd):
    versions = iter(range(1, 10**6))

    def make(*, producer=None, at=START + timedelta(hours=40), side="buy", entry=Decimal("1.08420"),
             stop=Decimal("1.08200"), target=Decimal("1.08900")):
        signal, _ = signal_services.ingest_signal(
            producer=producer or producer_and_secret[0], instrument=eurusd, side=side, time=at,
            version=next(versions), entry_price=entry, stop_loss=stop, take_profit=target)
        return signal

    return make


class SignedPoster:
    """Posts market data as a producer does: signs the exact bytes sent."""

    def __init__(self, producer, secret):
        self.api = APIClient()
        self.producer, self.secret = producer, secret

    def post(self, path, body):
        return self.post_raw(path, json.dumps(body, default=str).encode())

    def post_raw(self, path, raw: bytes, *, content_type="application/json"):
        timestamp = str(int(time.time()))
        return self.api.generic("POST", path, raw, content_type=content_type,
                                HTTP_X_PRODUCER_ID=self.producer.key_id, HTTP_X_TIMESTAMP=timestamp,
                                HTTP_X_SIGNATURE="sha256=" + signature_hex(self.secret, timestamp, raw))


@pytest.fixture
def signed(producer_and_secret):
    return SignedPoster(*producer_and_secret)
