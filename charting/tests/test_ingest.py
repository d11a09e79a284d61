"""Signed market-data ingestion with bulk upserts."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from charting.models import Candle, EquityPoint, UpsertReceipt
from charting import selectors
from charting.services import upsert_candles
from charting.tests.conftest import START, candle_rows, equity_rows
from signals.authentication import signature_hex
from tests.concurrency import run_together

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


@pytest.mark.parametrize("path, rows_field, make_rows", [(CANDLES, "candles", candle_rows),
                                                        (EQUITY, "points", equity_rows)])
def test_a_row_dated_ahead_of_the_clock_is_422_and_stores_nothing(signed, path, rows_field, make_rows):
    # A bar or point far ahead (a clock gone wrong) would stay the newest of its series for good.
    rows = as_json(make_rows(2))
    rows[1]["time"] = "9999-12-31T23:00:00Z"
    body = {rows_field: rows, **({"instrument": "EURUSD", "timeframe": "H1"} if path == CANDLES else {})}
    response = signed.post(path, body)
    assert list(response.json()["errors"]) == [f"{rows_field}.1.time"]
    assert not Candle.objects.exists() and not EquityPoint.objects.exists()


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
    from signals.authentication import ProducerThrottle
    monkeypatch.setattr(ProducerThrottle, "THROTTLE_RATES", {"producer": "1/min"})
    body = {"points": as_json(equity_rows(1))}
    assert signed.post(EQUITY, body).status_code == 200
    refused = signed.post(EQUITY, body)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


@pytest.mark.parametrize("path, rows_field, field, value", [
    (CANDLES, "candles", "close", "1.080_50"),  # Decimal() reads it as 1.08050
    (CANDLES, "candles", "volume", "1_000"),
    (CANDLES, "candles", "open", 1.0803),  # a JSON float: not the decimal string prices are sent as
    (EQUITY, "points", "equity", "10_037.00"),
    (EQUITY, "points", "balance", "١٠٠٣٠"),  # Arabic-Indic digits
])
def test_a_loose_number_in_a_row_is_422_naming_it(signed, path, rows_field, field, value):
    rows = as_json(candle_rows(3) if rows_field == "candles" else equity_rows(1)[:3])
    rows[1][field] = value
    body = {"instrument": "EURUSD", "timeframe": "H1", "candles": rows} if rows_field == "candles" else {"points": rows}
    response = signed.post(path, body)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [f"{rows_field}.1.{field}"]
    assert not Candle.objects.exists() and not EquityPoint.objects.exists()


# --- replayed signed requests ----------------------------------------------------

def signed_request(signed, path, body, *, timestamp):
    """A producer's request as sent at `timestamp`: calling it again sends the
    very same bytes, headers and signature, as a network replay would."""
    raw = json.dumps(body).encode()
    stamp = str(timestamp)
    headers = {"HTTP_X_PRODUCER_ID": signed.producer.key_id, "HTTP_X_TIMESTAMP": stamp,
               "HTTP_X_SIGNATURE": "sha256=" + signature_hex(signed.secret, stamp, raw)}
    return lambda: signed.api.generic("POST", path, raw, content_type="application/json", **headers)


def candles_body(close):
    rows = as_json(candle_rows(3))
    for row in rows:
        row["high"], row["low"], row["open"], row["close"] = "1.09000", "1.07000", "1.08000", close
    return {"instrument": "EURUSD", "timeframe": "H1", "candles": rows}


def equity_body(equity):
    return {"points": [{"time": row["time"], "equity": equity, "balance": "10000.00"}
                       for row in as_json(equity_rows(1))[:3]]}


@pytest.mark.parametrize("path, make_body, stored", [
    (CANDLES, candles_body, lambda: {c.close for c in Candle.objects.all()}),
    (EQUITY, equity_body, lambda: {p.equity for p in EquityPoint.objects.all()}),
], ids=["candles", "equity"])
def test_a_replayed_upsert_does_not_revert_a_later_correction(signed, path, make_body, stored):
    now = int(time.time())
    original = signed_request(signed, path, make_body("1.08100"), timestamp=now - 60)
    correction = signed_request(signed, path, make_body("1.08200"), timestamp=now - 30)
    assert original().json() == {"inserted": 3, "updated": 0}
    assert correction().json() == {"inserted": 0, "updated": 3}

    replay = original()  # captured on the wire, sent again within the signature's 300 s
    assert replay.status_code == 200
    assert replay.json() == {"inserted": 3, "updated": 0}  # the answer it had: it changes nothing now
    assert stored() == {Decimal("1.08200")}

    retry = correction()  # the producer retrying its latest request after a timeout
    assert retry.status_code == 200
    assert retry.json() == {"inserted": 0, "updated": 3}
    assert stored() == {Decimal("1.08200")}


def test_the_same_rows_signed_anew_are_written_again(signed):
    """Only the very same signed request is a replay: a producer that sends
    the earlier values again, under a new signature, means them."""
    now = int(time.time())
    assert signed_request(signed, CANDLES, candles_body("1.08100"), timestamp=now - 60)().status_code == 200
    assert signed_request(signed, CANDLES, candles_body("1.08200"), timestamp=now - 30)().status_code == 200
    again = signed_request(signed, CANDLES, candles_body("1.08100"), timestamp=now)()
    assert again.json() == {"inserted": 0, "updated": 3}
    assert {c.close for c in Candle.objects.all()} == {Decimal("1.08100")}


def test_receipts_are_pruned_minutes_after_their_signature_expired(signed, django_capture_on_commit_callbacks):
    def receipt(digest, expired_ago):
        UpsertReceipt.objects.create(producer=signed.producer, digest=digest, inserted=1, updated=0,
                                     valid_until=timezone.now() - expired_ago)

    receipt("a" * 64, timedelta(hours=1))
    receipt("b" * 64, timedelta(minutes=1))  # a request signed then may still be on its way to the lock
    with django_capture_on_commit_callbacks(execute=True):
        assert signed.post(CANDLES, candles_body("1.08100")).status_code == 200
    digests = set(UpsertReceipt.objects.values_list("digest", flat=True))
    assert "a" * 64 not in digests and "b" * 64 in digests and len(digests) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_signed_upsert_sent_eight_times_at_once_is_applied_once(producer_and_secret):
    producer, secret = producer_and_secret
    raw = json.dumps(candles_body("1.08100")).encode()
    stamp = str(int(time.time()))
    headers = {"HTTP_X_PRODUCER_ID": producer.key_id, "HTTP_X_TIMESTAMP": stamp,
               "HTTP_X_SIGNATURE": "sha256=" + signature_hex(secret, stamp, raw)}

    def post():
        response = APIClient().generic("POST", CANDLES, raw, content_type="application/json", **headers)
        return response.status_code, response.json()

    answers = run_together([post] * 8)
    assert answers == [(200, {"inserted": 3, "updated": 0})] * 8
    assert Candle.objects.count() == 3
    assert UpsertReceipt.objects.count() == 1


def test_a_correction_written_by_a_host_whose_clock_is_behind_still_moves_the_data_version(eurusd, monkeypatch):
    rows = candle_rows(3)
    upsert_candles(instrument=eurusd, timeframe="H1", candles=rows)
    before = selectors.candles_version(instrument=eurusd, timeframe="H1")
    behind = timezone.now() - timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: behind)  # another host, its clock a second behind

    upsert_candles(instrument=eurusd, timeframe="H1", candles=[{**rows[0], "close": rows[0]["low"]}])

    assert selectors.candles_version(instrument=eurusd, timeframe="H1") != before


def test_a_candle_volume_is_stored_digit_for_digit_or_refused_naming_the_field(signed):
    # docs/api.md: on SQLite a decimal of more than 15 significant digits is a 422 naming the field,
    # "where PostgreSQL stores it digit for digit". The candle's volume (24 digits, 8 places) is a decimal too.
    rows = as_json(candle_rows(1))
    rows[0]["volume"] = "1234567890123.12345678"  # 21 significant digits
    response = signed.post(CANDLES, {"instrument": "EURUSD", "timeframe": "H1", "candles": rows})
    if connection.vendor == "sqlite":
        assert (response.status_code, list(response.json()["errors"])) == (422, ["candles.0.volume"])
        assert not Candle.objects.exists()
    else:
        assert response.status_code == 200, response.content
        assert Candle.objects.get().volume == Decimal("1234567890123.12345678")
