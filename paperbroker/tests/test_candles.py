"""The stored candles as the paper broker's prices: the finest timeframe
there is, read through the charting selectors."""

from decimal import Decimal

import pytest
from django.db import OperationalError

from charting import selectors, services
from paperbroker.broker import PaperBroker
from paperbroker.candles import StoredCandles
from paperbroker.prices import PriceSourceError
from paperbroker.tests.conftest import at, new_account, open_command
from signals.models import Instrument

pytestmark = pytest.mark.django_db


def store(symbol, timeframe, *rows):
    candles = [{"time": at(minutes), "open": Decimal(o), "high": Decimal(h), "low": Decimal(low),
                "close": Decimal(c)} for minutes, o, h, low, c in rows]
    services.upsert_candles(instrument=Instrument.objects.get(symbol=symbol), timeframe=timeframe, candles=candles)


def test_the_finest_timeframe_is_the_feed():
    store("EURUSD", "H1", (0, "1.10000", "1.10500", "1.09500", "1.10200"))
    store("EURUSD", "M5", (0, "1.08400", "1.08500", "1.08300", "1.08450"), (5, "1.08450", "1.08600", "1.08400",
                                                                          "1.08550"))
    source = StoredCandles()
    assert [(b.time, b.open) for b in source.bars("EURUSD", at(1), 10)] == [(at(5), Decimal("1.08450"))]
    assert source.last_bar("EURUSD").close == Decimal("1.08550")
    assert source.bars("XAUUSD", at(0), 10) == [] and source.last_bar("XAUUSD") is None

    store("EURUSD", "M1", (1, "1.08460", "1.08470", "1.08440", "1.08465"))
    source = StoredCandles()  # M1 bars now exist: they win
    assert source.last_bar("EURUSD").close == Decimal("1.08465")


def test_the_timeframe_is_looked_up_again_after_a_while():
    clock = [0.0]
    source = StoredCandles(monotonic=lambda: clock[0])
    store("EURUSD", "H1", (0, "1.10000", "1.10500", "1.09500", "1.10200"))
    assert source.timeframe("EURUSD") == "H1"
    store("EURUSD", "M1", (1, "1.08460", "1.08470", "1.08440", "1.08465"))
    assert source.timeframe("EURUSD") == "H1"
    clock[0] = 61
    assert source.timeframe("EURUSD") == "M1"


def test_a_broker_on_the_stored_candles_fills_at_the_next_bars_open():
    store("EURUSD", "M1", (0, "1.08400", "1.08460", "1.08380", "1.08440"),
          (1, "1.08450", "1.08600", "1.08300", "1.08500"))
    broker = PaperBroker(new_account(), StoredCandles())
    broker.handle_command(open_command(), now=at(1.5))
    [fill] = [item["body"]["fills"][0] for item in broker.account.outbox if item["call"] == "fills"]
    assert (fill["price"], fill["time"]) == ("1.08450", "2026-11-26T07:01:00Z")


def test_a_database_error_is_a_price_source_error(monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "finest_candle_timeframe", unreachable)
    with pytest.raises(PriceSourceError, match="OperationalError"):
        StoredCandles().bars("EURUSD", at(0), 1)
    with pytest.raises(PriceSourceError):
        StoredCandles().last_bar("EURUSD")
