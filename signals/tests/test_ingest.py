"""POST /api/v1/signals/: one test per rule and per answer of docs/api.md#signals."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEntry
from signals.models import Instrument, Signal
from signals.tests import conftest
from signals.tests.conftest import SignedClient, rfc3339, signal_body

pytestmark = pytest.mark.django_db

RESOURCE_KEYS = {"id", "instrument", "side", "time", "version", "entry_price", "stop_loss", "take_profit",
                 "payload", "status", "expires_at", "created_at", "producer", "owner", "approval", "chart_url"}


def test_the_schema_declares_every_member_of_the_resource():
    from signals.serializers import IngestAnswerSerializer, SignalSerializer

    assert set(SignalSerializer().fields) == RESOURCE_KEYS  # the resource itself is written by hand
    assert set(IngestAnswerSerializer().fields) == RESOURCE_KEYS | {"deliveries"}


def errors_of(response):
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["errors"]


def test_201_with_location_and_the_resource(signer, now_body):
    response = signer.post(now_body(instrument="eurusd", unknown_field="ignored"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == RESOURCE_KEYS | {"deliveries"}
    assert data["deliveries"] == 1  # the owner's feed: the producer has no subscribers
    assert response["Location"] == f"http://testserver/api/v1/signals/{data['id']}/"
    assert data["instrument"] == "EURUSD"
    assert data["side"] == "buy"
    assert data["version"] == 1
    assert (data["entry_price"], data["stop_loss"], data["take_profit"]) == ("1.08450", "1.08000", "1.09000")
    assert data["payload"] == {"rsi": 28.5}
    assert data["status"] == "pending"
    assert data["producer"] == "alpha-engine"
    assert data["owner"] == "trader"
    assert data["approval"] is None
    assert data["time"].endswith("Z") and data["created_at"].endswith("Z") and data["expires_at"].endswith("Z")
    signal = Signal.objects.get(pk=data["id"])
    assert signal.owner.username == "trader" and signal.instrument.symbol == "EURUSD"


def test_prices_keep_the_instrument_precision_and_never_round(signer):
    data = signer.post(signal_body(instrument="USDJPY", entry_price="151.2", stop_loss="150.12345",
                                   take_profit=None)).json()
    assert (data["entry_price"], data["stop_loss"], data["take_profit"]) == ("151.200", "150.12345", None)
    gold = signer.post(signal_body(instrument="xauusd", side="sell", entry_price=2400, stop_loss="2410.5",
                                   take_profit="2300")).json()
    assert (gold["entry_price"], gold["stop_loss"], gold["take_profit"]) == ("2400.00", "2410.50", "2300.00")


def test_expires_at_defaults_to_time_plus_lifetime(signer, settings):
    settings.SIGNAL_LIFETIME_SECONDS = 600
    produced = timezone.now().replace(microsecond=0) - timedelta(seconds=60)
    data = signer.post(signal_body(time=rfc3339(produced))).json()
    assert data["time"] == produced.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["expires_at"] == (produced + timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_optional_fields_may_be_left_out(signer):
    response = signer.post(signal_body(stop_loss=..., take_profit=..., payload=..., expires_at=...))
    assert response.status_code == 201
    data = response.json()
    assert (data["stop_loss"], data["take_profit"], data["payload"]) == (None, None, {})


@pytest.mark.parametrize("field", ["instrument", "side", "time", "version", "entry_price"])
def test_required_fields(signer, field):
    assert field in errors_of(signer.post(signal_body(**{field: ...})))


@pytest.mark.parametrize("value", ["GBPJPY", "", 42])
def test_instrument_must_be_whitelisted(signer, value):
    assert "instrument" in errors_of(signer.post(signal_body(instrument=value)))


def test_disabling_an_instrument_takes_effect_at_once(signer):
    assert signer.post(signal_body(version=1)).status_code == 201  # the whitelist is now cached
    eurusd = Instrument.objects.get(symbol="EURUSD")
    eurusd.enabled = False
    eurusd.save()
    assert "instrument" in errors_of(signer.post(signal_body(version=2)))
    eurusd.enabled = True
    eurusd.save()
    assert signer.post(signal_body(version=2)).status_code == 201


def test_operator_added_instrument_is_accepted(signer):
    Instrument.objects.create(symbol="btcusd", digits=2)
    response = signer.post(signal_body(instrument="BtcUsd", entry_price="60000", stop_loss="59000",
                                       take_profit="61000"))
    assert response.status_code == 201
    assert response.json()["instrument"] == "BTCUSD"


def test_the_shipped_whitelist():
    shipped = dict(Instrument.objects.filter(enabled=True).values_list("symbol", "digits"))
    assert shipped == {"EURUSD": 5, "GBPUSD": 5, "USDJPY": 3, "USDCHF": 5, "AUDUSD": 5, "USDCAD": 5,
                       "NZDUSD": 5, "XAUUSD": 2}


@pytest.mark.parametrize("value", ["hold", "BUY ", None])
def test_side_must_be_buy_or_sell(signer, value):
    assert "side" in errors_of(signer.post(signal_body(side=value)))


def test_time_at_most_300_s_in_the_future(signer):
    soon = timezone.now() + timedelta(seconds=290)
    later = timezone.now() + timedelta(seconds=320)
    assert signer.post(signal_body(time=soon.isoformat())).status_code == 201
    assert "time" in errors_of(signer.post(signal_body(time=later.isoformat())))
    assert "time" in errors_of(signer.post(signal_body(time="yesterday")))


@pytest.mark.parametrize("value", [0, -1, "x", 1.5, 2**31])
def test_version_is_an_integer_from_1(signer, value):
    assert "version" in errors_of(signer.post(signal_body(version=value)))


@pytest.mark.parametrize("value", ["1_0", "١", "１", "+1", " 1", "1\n", "1.0", 1.0, True])
def test_version_is_a_json_integer_or_a_string_of_ascii_digits(signer, value):
    assert list(errors_of(signer.post(signal_body(version=value)))) == ["version"]
    assert not Signal.objects.exists()


@pytest.mark.parametrize("value", [10, "10"])
def test_version_as_a_json_integer_or_a_digit_string_is_accepted(signer, value):
    assert signer.post(signal_body(version=value)).json()["version"] == 10


@pytest.mark.parametrize("field", ["entry_price", "stop_loss", "take_profit"])
@pytest.mark.parametrize("value", ["0", "-1.2", "abc", "NaN", "1.123456789"])
def test_prices_are_decimals_above_zero(signer, field, value):
    assert field in errors_of(signer.post(signal_body(**{field: value})))


def test_a_price_comes_back_digit_for_digit_or_is_422_on_the_embedded_database(signer):
    # 17 significant digits: PostgreSQL keeps them; SQLite's floating point
    # gave back 123456789012.123, a different price, without a word.
    response = signer.post(signal_body(entry_price="123456789012.12345", stop_loss=..., take_profit=...))
    if connection.vendor == "sqlite":
        assert "15 significant digits" in errors_of(response)["entry_price"][0]
        assert not Signal.objects.exists()
    else:
        assert response.status_code == 201, response.content
        assert Signal.objects.get().entry_price == Decimal("123456789012.12345")
    fifteen = signer.post(signal_body(version=2, entry_price="1234567890.12345", stop_loss=..., take_profit=...))
    assert fifteen.status_code == 201, fifteen.content
    assert Signal.objects.get(pk=fifteen.json()["id"]).entry_price == Decimal("1234567890.12345")


def test_a_digit_separator_does_not_make_a_price_a_hundred_thousand_times_larger(signer):
    response = signer.post(signal_body(entry_price="1_08450", stop_loss=..., take_profit=...))
    assert list(errors_of(response)) == ["entry_price"]
    assert not Signal.objects.exists()


def test_a_target_with_a_digit_separator_is_not_checked_as_109200(signer):
    # 109200 is above the entry of 1.08450: the buy's target rule would pass it.
    assert list(errors_of(signer.post(signal_body(take_profit="1_09200")))) == ["take_profit"]
    assert not Signal.objects.exists()


@pytest.mark.parametrize("value", ["1.084_50", "١.٠٨٤٥٠", "１.０８４５０", "108450e-5", "+1.08450", " 1.08450",
                                   "1.08450\n", ".5", "1.", 1.0845])
def test_a_price_is_a_plain_decimal_string(signer, value):
    # What Python's Decimal() reads besides: separators, other scripts' digits,
    # exponents, a "+", whitespace, a bare point; a JSON float has lost exactness.
    assert list(errors_of(signer.post(signal_body(entry_price=value, stop_loss=..., take_profit=...)))) == [
        "entry_price"]
    assert not Signal.objects.exists()


@pytest.mark.parametrize("side,stop_loss,take_profit,bad", [
    ("buy", "1.09", "1.10", "stop_loss"),   # buy: stop above entry
    ("buy", "1.08", "1.08", "take_profit"),  # buy: target below entry
    ("buy", "1.0845", None, "stop_loss"),    # equal to entry
    ("sell", "1.08", None, "stop_loss"),     # sell: stop below entry
    ("sell", None, "1.09", "take_profit"),   # sell: target above entry
])
def test_stop_and_target_on_the_right_side_of_entry(signer, side, stop_loss, take_profit, bad):
    errors = errors_of(signer.post(signal_body(side=side, entry_price="1.0845", stop_loss=stop_loss,
                                               take_profit=take_profit)))
    assert bad in errors


def test_sell_with_stop_above_and_target_below_is_fine(signer):
    response = signer.post(signal_body(side="sell", entry_price="1.0845", stop_loss="1.09", take_profit="1.08"))
    assert response.status_code == 201


@pytest.mark.parametrize("after_time", [timedelta(0), timedelta(hours=-1)])
def test_expires_at_must_be_after_time(signer, after_time):
    produced = timezone.now() + timedelta(seconds=200)  # so that expires_at is not past yet either
    body = signal_body(time=rfc3339(produced), expires_at=rfc3339(produced + after_time))
    assert list(errors_of(signer.post(body))) == ["expires_at"]


@pytest.fixture
def server_clock(monkeypatch):
    """Sets what the server reads as now: `server_clock(moment)`."""
    def move_to(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)
    return move_to


def test_a_signal_already_expired_on_arrival_is_422_naming_expires_at_and_stores_nothing(
        signer, django_capture_on_commit_callbacks):
    produced = timezone.now() - timedelta(minutes=10)
    body = signal_body(time=rfc3339(produced), expires_at=rfc3339(produced + timedelta(minutes=5)))
    with django_capture_on_commit_callbacks() as on_commit:
        errors = errors_of(signer.post(body))
    assert list(errors) == ["expires_at"]
    assert "expired" in errors["expires_at"][0]
    assert not Signal.objects.exists()
    assert not AuditEntry.objects.filter(action="signal.create").exists()
    assert not on_commit  # nothing counted or handed on after a commit


def test_expiring_at_the_very_moment_of_arrival_is_expired(signer, server_clock):
    arrival = timezone.now().replace(microsecond=0)
    server_clock(arrival)
    body = signal_body(time=rfc3339(arrival - timedelta(seconds=60)), expires_at=rfc3339(arrival))
    assert list(errors_of(signer.post(body))) == ["expires_at"]
    assert not Signal.objects.exists()


def test_a_signal_expired_by_the_default_lifetime_is_422_naming_time(signer, settings):
    """Without expires_at, `time` is what the producer sent that made it expired."""
    settings.SIGNAL_LIFETIME_SECONDS = 600
    errors = errors_of(signer.post(signal_body(time=rfc3339(timezone.now() - timedelta(seconds=601)))))
    assert list(errors) == ["time"]
    assert "600 s" in errors["time"][0]
    assert not Signal.objects.exists()


def test_a_retry_after_the_signal_expired_is_still_an_idempotent_replay(signer, settings, server_clock):
    settings.SIGNAL_LIFETIME_SECONDS = 600
    first = signer.post(signal_body())
    assert first.status_code == 201
    server_clock(conftest.produced_at + timedelta(seconds=900))  # the producer retries late (a timeout, a restart)
    again = signer.post(signal_body())
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "status": "expired"}
    assert signer.post(signal_body(entry_price="1.08451")).status_code == 409  # other content: still a conflict
    assert list(errors_of(signer.post(signal_body(version=2)))) == ["time"]  # a new signal: expired on arrival
    assert Signal.objects.count() == 1


@pytest.mark.parametrize("payload", [[1, 2], "text", 5])
def test_payload_must_be_an_object(signer, payload):
    assert "payload" in errors_of(signer.post(signal_body(payload=payload)))


@pytest.mark.parametrize("payload", [{"note": "a\u0000b"}, {"a\u0000": 1}, {"path": "C:\\\u0000"}])
def test_payload_with_nul_is_refused_not_a_crash(signer, payload):
    assert "payload" in errors_of(signer.post(signal_body(payload=payload)))


def test_payload_text_that_spells_an_escaped_nul_is_no_nul(signer):
    # The six characters \u0000 (a Windows path, a pattern), not the character they name.
    response = signer.post(signal_body(payload={"pattern": "C:\\u0000x"}))
    assert response.status_code == 201, response.content
    assert Signal.objects.get().payload == {"pattern": "C:\\u0000x"}


def test_payload_over_32_kib_is_413(signer):
    response = signer.post(signal_body(payload={"blob": "x" * (32 * 1024)}))
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert not Signal.objects.exists()


def test_payload_of_32_kib_exactly_is_accepted(signer):
    filler = 32 * 1024 - len('{"blob":""}')
    assert signer.post(signal_body(payload={"blob": "x" * filler})).status_code == 201


def test_malformed_json_is_400(signer):
    response = signer.post(None, raw=b'{"instrument": ')
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_body_not_an_object_is_422(signer):
    assert signer.post(None, raw=b"[1, 2]").status_code == 422


def test_not_json_is_415(signer):
    response = signer.post(None, raw=b"instrument=EURUSD", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_identical_repeat_is_an_idempotent_replay(signer):
    first = signer.post(signal_body())
    # The same content written differently is still the same content.
    again = signer.post(None, raw=json.dumps(signal_body(entry_price="1.0845", side="buy")).encode())
    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert "Location" not in again
    assert again.json() == first.json()
    assert Signal.objects.count() == 1
    actions = list(AuditEntry.objects.filter(target_id=first.json()["id"]).order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["signal.create", "signal.replay"]


def produced_plus(change: dict) -> dict:
    """`change` with each timedelta made a time that far from signal_body()'s `time`."""
    return {name: rfc3339(conftest.produced_at + value) if isinstance(value, timedelta) else value
            for name, value in change.items()}


@pytest.mark.parametrize("change", [{"entry_price": "1.08451"}, {"payload": {"rsi": 30}},
                                    {"side": "sell", "stop_loss": "1.09", "take_profit": "1.08"},
                                    {"expires_at": timedelta(hours=1)}, {"take_profit": None}])
def test_same_key_other_content_is_409(signer, change):
    assert signer.post(signal_body()).status_code == 201
    response = signer.post(signal_body(**produced_plus(change)))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("signal-conflict")
    assert Signal.objects.count() == 1


@pytest.mark.parametrize("change", [{"version": 2}, {"time": timedelta(seconds=1)}, {"instrument": "GBPUSD"}])
def test_another_dedup_key_is_a_new_signal(signer, change):
    assert signer.post(signal_body()).status_code == 201
    assert signer.post(signal_body(**produced_plus(change))).status_code == 201
    assert Signal.objects.count() == 2


def test_dedup_key_is_per_producer(signer, trader):
    from signals import services

    other = SignedClient(*services.create_producer(name="beta-engine", owner=trader))
    assert signer.post(signal_body()).status_code == 201
    assert other.post(signal_body(entry_price="1.0846")).status_code == 201


def test_dedup_key_is_a_database_constraint(producer):
    from django.db import IntegrityError, transaction

    eurusd = Instrument.objects.get(symbol="EURUSD")
    fields = dict(owner=producer.owner, producer=producer, instrument=eurusd, side="buy",
                  time=timezone.now(), version=1, entry_price=1, expires_at=timezone.now() + timedelta(hours=1))
    Signal.objects.create(**fields, fingerprint="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Signal.objects.create(**fields, fingerprint="b")


def test_created_signal_is_audited_with_the_producer_as_actor(signer):
    data = signer.post(signal_body()).json()
    entry = AuditEntry.objects.get(action="signal.create")
    assert (entry.target_type, entry.target_id) == ("signal", data["id"])
    assert (entry.actor_type, entry.actor) == ("producer", "alpha-engine")
    assert entry.meta["instrument"] == "EURUSD"


def test_throttled_per_producer_with_retry_after(signer, trader, monkeypatch):
    from signals import services

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES,
                                                               "producer": "2/min"})
    assert signer.post(signal_body(version=1)).status_code == 201
    assert signer.post(signal_body(version=2)).status_code == 201
    limited = signer.post(signal_body(version=3))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    other = SignedClient(*services.create_producer(name="beta-engine", owner=trader))
    assert other.post(signal_body(version=3)).status_code == 201


def ingested(instrument, side):
    return REGISTRY.get_sample_value("signals_ingested_total", {"instrument": instrument, "side": side}) or 0


def test_ingested_metric_counts_committed_signals(signer, django_capture_on_commit_callbacks):
    before = ingested("EURUSD", "buy")
    with django_capture_on_commit_callbacks(execute=True):
        signer.post(signal_body())
    with django_capture_on_commit_callbacks(execute=True):
        signer.post(signal_body())  # a replay stores nothing
    assert ingested("EURUSD", "buy") == before + 1


def test_validation_refusals_are_counted(signer):
    before = REGISTRY.get_sample_value("signals_rejected_total", {"reason": "invalid"}) or 0
    signer.post(signal_body(side="hold"))
    assert REGISTRY.get_sample_value("signals_rejected_total", {"reason": "invalid"}) == before + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_requests_racing_store_one_signal(producer, secret):
    """Eight connections post the same signal at once: one 201, the rest replays."""
    body = json.dumps(signal_body()).encode()
    barrier = threading.Barrier(8)
    statuses, errors = [], []

    def post():
        try:
            client = SignedClient(producer, secret)
            barrier.wait()
            statuses.append(client.post(None, raw=body).status_code)
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(statuses) == [200] * 7 + [201]
    assert Signal.objects.count() == 1
    assert AuditEntry.objects.filter(action="signal.create").count() == 1
    assert AuditEntry.objects.filter(action="signal.replay").count() == 7
