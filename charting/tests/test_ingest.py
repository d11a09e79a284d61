"""Contract §6: signed market-data ingestion with bulk upserts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from charting.models import Candle, EquityPoint
from charting.services import upsert_candles
from charting.tests.conftest import START, candle_rows, equity_rows

pytestmark = pytest.mark.django_db

CANDLES = "/api/v1/candles/"
EQUITY = "/api/v1/equity/"


def as_json(rows):
    return [{k: str(v) if not hasattr(v, "isoformat") else v.isoformat().replace("+00:00", "Z")
             for k, v in row.items()} for row in rows]


def test_candles_are_inserted_then_updated_and_counted(signed):
    rows = as_json(candle_rows(30))
    first = signed.post(CANDLES, {"instrument": "eurusd", "timeframe": "H1", "candles": rows[:20]})
    assert first.status_code == 200
    assert first.json() == {"inserted": 20, "updated": 0}

    rows[5]["close"] = rows[5]["open"]  # a correction of a bar already stored
    second = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "H1", "candles": rows[:30]})
    assert second.json() == {"inserted": 10, "updated": 20}
    assert Candle.objects.count() == 30
    assert Candle.objects.get(time=START + timedelta(hours=5)).close == Decimal(rows[5]["open"])


def test_a_batch_is_one_insert_statement_not_one_per_candle(eurusd):
    rows = candle_rows(600)
    with CaptureQueriesContext(connection) as queries:
        result = upsert_candles(instrument=eurusd, timeframe="M5", candles=rows)
    assert (result.inserted, result.updated) == (600, 0)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("INSERT")]
    # Django splits at the database's parameter limit; never anywhere near a statement per row.
    assert 1 <= len(inserts) <= 6
    assert all("ON CONFLICT" in sql.upper() for sql in inserts)


@pytest.mark.parametrize("field, value, message_field", [
    ("high", "1.08025", "high"),  # below open (1.08030), above low
    ("low", "1.08025", "low"),  # above close (1.08020), below high
])
def test_a_bar_whose_high_or_low_does_not_bound_it_is_422_naming_the_index(signed, field, value, message_field):
    rows = as_json(candle_rows(5))
    rows[3][field] = value
    response = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "H1", "candles": rows})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == [f"candles.3.{message_field}"]
    assert not Candle.objects.exists()


def test_candle_batch_limits(signed):
    too_many = as_json(candle_rows(5001, step=timedelta(minutes=1)))
    response = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "M1", "candles": too_many})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["candles"]

    five_thousand = as_json(candle_rows(5000, step=timedelta(minutes=1)))
    response = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "M1", "candles": five_thousand})
    assert response.status_code == 200
    assert response.json() == {"inserted": 5000, "updated": 0}


def test_repeated_time_unknown_instrument_and_bad_timeframe_are_422(signed):
    rows = as_json(candle_rows(3))
    rows[2]["time"] = rows[0]["time"]
    response = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "H1", "candles": rows})
    assert list(response.json()["errors"]) == ["candles.2.time"]
    response = signed.post(CANDLES, {"instrument": "DOGEUSD", "timeframe": "W1", "candles": rows[:2]})
    assert set(response.json()["errors"]) == {"instrument", "timeframe"}


def test_unsigned_market_data_is_401(anon):
    for path in (CANDLES, EQUITY):
        response = anon.post(path, {"points": []}, format="json")
        assert response.status_code == 401


def test_a_body_over_one_mebibyte_is_413(signed):
    response = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "H1", "pad": "x" * (1024 * 1024)})
    assert response.status_code == 413


def test_equity_goes_to_the_producers_owner(signed, alice, bob):
    rows = as_json(equity_rows(3))
    response = signed.post(EQUITY, {"points": rows})
    assert response.status_code == 200
    assert response.json() == {"inserted": 12, "updated": 0}
    assert EquityPoint.objects.filter(owner=alice).count() == 12
    assert not EquityPoint.objects.filter(owner=bob).exists()
    assert signed.post(EQUITY, {"points": rows[:4]}).json() == {"inserted": 0, "updated": 4}


def test_malformed_json_is_400_and_another_content_type_415(signed):
    assert signed.post_raw(CANDLES, b'{"candles": [', content_type="application/json").status_code == 400
    assert signed.post_raw(CANDLES, b"time,open\n", content_type="text/csv").status_code == 415


def test_a_producer_sending_too_fast_gets_429_with_retry_after(signed, monkeypatch):
    from signals.views import ProducerThrottle
    monkeypatch.setattr(ProducerThrottle, "THROTTLE_RATES", {"producer": "1/min"})
    body = {"points": as_json(equity_rows(1))}
    assert signed.post(EQUITY, body).status_code == 200
    refused = signed.post(EQUITY, body)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
