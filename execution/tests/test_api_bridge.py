"""The bridge's calls over HTTP, signed: symbols, poll, ack, fills, account.
Each is answered from what is stored, so a replay changes nothing; a bad
field is a 422 naming it and changes nothing either."""

import json
from datetime import timedelta
from decimal import Decimal as D

import time

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from charting.models import EquityPoint
from execution.models import AccountSnapshot, Bridge, Command, Fill, Order, Position, Symbol
from execution.tests.bridge_api import (  # noqa: F401 (fixtures)
    BridgeClient,
    account_json,
    bridge,
    bridge_and_secret,
    fill_json,
    signed,
)
from execution.tests.conftest import instrument
from machines import services as machine_services

pytestmark = pytest.mark.django_db

SYMBOL = {"instrument": "eurusd", "tick_size": "0.00001", "tick_value": "1", "volume_min": "0.01",
          "volume_step": "0.01", "volume_max": "100"}


def errors(response) -> dict:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["errors"]


def stored_state():
    """Everything a bridge call can change, to compare before and after."""
    return (list(Symbol.objects.values_list("instrument__symbol", "tick_size", "tick_value", "volume_min",
                                            "volume_step", "volume_max").order_by("instrument")),
            list(Command.objects.values_list("pk", "status", "broker_ticket", "error").order_by("pk")),
            list(Order.objects.values_list("pk", "status", "filled_volume", "broker_ticket").order_by("pk")),
            list(Fill.objects.values_list("fill_id", "volume", "price").order_by("fill_id")),
            list(Position.objects.values_list("ticket", "status", "volume", "open_price", "close_price",
                                              "realized_pnl").order_by("ticket")),
            list(AccountSnapshot.objects.values_list("pk", "time", "equity").order_by("pk")),
            AuditEntry.objects.count())


@pytest.fixture
def order(alice, specs, snapshot, place):
    """alice's pending EURUSD buy of 0.28 lots, its open command queued."""
    return place(alice)


# --- symbols -------------------------------------------------------------------------

def test_symbols_store_the_brokers_specs_and_a_replay_changes_nothing(signed, bridge, shipped_instruments):
    body = {"symbols": [SYMBOL, {**SYMBOL, "instrument": "XAUUSD", "tick_size": "0.01", "volume_max": "50"}]}
    response = signed.post("symbols", body)
    assert response.status_code == 200, response.content
    assert response.json() == {"updated": 2}
    eurusd = Symbol.objects.get(bridge=bridge, instrument__symbol="EURUSD")
    assert (eurusd.tick_size, eurusd.tick_value, eurusd.volume_min, eurusd.volume_step, eurusd.volume_max) == (
        D("0.00001"), D("1"), D("0.01"), D("0.01"), D("100"))

    before = stored_state()
    assert signed.post("symbols", body).json() == {"updated": 2}
    assert stored_state() == before


def test_new_specs_replace_the_earlier_ones(signed, bridge, shipped_instruments):
    signed.post("symbols", {"symbols": [SYMBOL]})
    assert signed.post("symbols", {"symbols": [{**SYMBOL, "volume_min": "0.1"}]}).status_code == 200
    assert Symbol.objects.get(bridge=bridge).volume_min == D("0.1")


def test_an_older_symbols_call_replayed_after_a_correction_leaves_the_correction(signed, bridge,
                                                                                 shipped_instruments):
    # A copy of the first call (a proxy's log, the bridge's own late retry),
    # sent again within its signature's window: sizing must keep reading the
    # corrected specs.
    now = int(time.time())
    assert signed.post("symbols", {"symbols": [SYMBOL]}, timestamp=now - 5).json() == {"updated": 1}
    corrected = {"symbols": [{**SYMBOL, "tick_value": "0.5", "volume_max": "10"}]}
    assert signed.post("symbols", corrected, timestamp=now).json() == {"updated": 1}

    replay = signed.post("symbols", {"symbols": [SYMBOL]}, timestamp=now - 5)
    assert (replay.status_code, replay.json()) == (200, {"updated": 0})
    spec = Symbol.objects.get(bridge=bridge)
    assert (spec.tick_value, spec.volume_max) == (D("0.5"), D("10"))


@pytest.mark.parametrize(("row", "field"), [
    ({"instrument": "NOPE"}, "symbols.1.instrument"),
    ({"tick_size": "-0.00001"}, "symbols.1.tick_size"),
    ({"tick_value": "0"}, "symbols.1.tick_value"),
    ({"volume_min": "1e-2"}, "symbols.1.volume_min"),
    ({"volume_step": 0.01}, "symbols.1.volume_step"),  # a JSON float
    ({"volume_max": "0.001"}, "symbols.1.volume_max"),  # below volume_min
    ({"instrument": "EURUSD"}, "symbols.1.instrument"),  # twice in one call
    ({"volume_max": None}, "symbols.1.volume_max"),
])
def test_a_bad_spec_is_named_and_nothing_is_stored(signed, shipped_instruments, row, field):
    response = signed.post("symbols", {"symbols": [SYMBOL, {**SYMBOL, "instrument": "USDJPY", **row}]})
    assert field in errors(response)
    assert not Symbol.objects.exists()


# --- poll and ack ----------------------------------------------------------------------

def test_poll_delivers_the_open_command_until_it_is_acknowledged(signed, order):
    response = signed.post("poll", {})
    assert response.status_code == 200, response.content
    [command] = response.json()["commands"]
    stored = Command.objects.get(order=order)
    assert command == {
        "id": str(stored.pk), "type": "open", "status": "sent", "client_order_id": order.client_order_id,
        "instrument": "EURUSD", "side": "buy", "volume": "0.28", "entry_price": "1.08450", "stop_loss": "1.08100",
        "take_profit": "1.09000", "expires_at": order.expires_at.isoformat().replace("+00:00", "Z"),
        "position_ticket": None, "reason": None, "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
    }
    order.refresh_from_db()
    assert order.status == "sent"

    # A bridge that crashed before acknowledging gets it again, unchanged.
    before = stored_state()
    assert signed.post("poll", {}).json()["commands"] == [command]
    assert stored_state() == before

    assert signed.post("ack", {"command": command["id"], "status": "accepted", "broker_ticket": "T-1"}).status_code \
        == 200
    assert signed.post("poll", {}).json() == {"commands": []}


def test_poll_records_when_the_bridge_last_polled(signed, bridge):
    assert bridge.last_poll_at is None
    assert signed.post("poll", {}).json() == {"commands": []}
    bridge.refresh_from_db()
    assert timezone.now() - bridge.last_poll_at < timedelta(seconds=5)


@pytest.mark.parametrize("body", [[], "x", 1, None])
def test_poll_needs_a_json_object(signed, body):
    assert "non_field_errors" in errors(signed.post("poll", raw=json.dumps(body).encode()))


def test_an_ack_moves_the_order_and_its_repeat_changes_nothing(signed, order):
    command = Command.objects.get(order=order)
    body = {"command": str(command.pk), "status": "accepted", "broker_ticket": "T-1", "error": ""}
    response = signed.post("ack", body)
    assert response.status_code == 200, response.content
    assert response.json() == {"command": str(command.pk), "status": "accepted", "broker_ticket": "T-1", "error": ""}
    order.refresh_from_db()
    assert (order.status, order.broker_ticket) == ("accepted", "T-1")

    before = stored_state()
    repeat = signed.post("ack", body)
    assert (repeat.status_code, repeat.json()) == (200, response.json())
    assert stored_state() == before


def test_an_ack_that_contradicts_the_earlier_one_is_409(signed, order):
    command = Command.objects.get(order=order)
    signed.post("ack", {"command": str(command.pk), "status": "rejected", "error": "no money"})
    before = stored_state()
    response = signed.post("ack", {"command": str(command.pk), "status": "accepted", "broker_ticket": "T-1"})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert stored_state() == before
    order.refresh_from_db()
    assert (order.status, order.reasons) == ("rejected", ["broker-rejected"])
    # A problem's `status` is its HTTP status; the stored answer has a member of its own.
    assert (response.json()["status"], response.json()["command_status"]) == (409, "rejected")


def test_an_executed_ack_sent_again_without_its_ticket_changes_nothing(signed, order):
    command = Command.objects.get(order=order)
    signed.post("poll", {})
    assert signed.post("ack", {"command": str(command.pk), "status": "accepted",
                               "broker_ticket": "T-1"}).status_code == 200
    executed = {"command": str(command.pk), "status": "executed"}
    assert signed.post("ack", executed).status_code == 200
    before = stored_state()

    again = signed.post("ack", executed)

    assert again.status_code == 200, again.content
    assert stored_state() == before


def test_an_ack_of_another_bridges_command_is_404(signed, order, bob):
    other, _ = machine_services.create_client(model=Bridge, name="bob-mt5", owner=bob, account_ref="7")
    foreign = Command.objects.create(bridge=other, type="cancel", instrument=instrument("EURUSD"), side="buy")
    before = stored_state()
    response = signed.post("ack", {"command": str(foreign.pk), "status": "executed"})
    assert response.status_code == 404
    assert signed.post("ack", {"command": "00000000-0000-0000-0000-000000000000",
                               "status": "executed"}).status_code == 404
    assert stored_state() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"command": "not-a-uuid", "status": "accepted"}, "command"),
    ({"status": "accepted"}, "command"),
    ({"command": "00000000-0000-0000-0000-000000000000", "status": "done"}, "status"),
    ({"command": "00000000-0000-0000-0000-000000000000", "status": "queued"}, "status"),
    ({"command": "00000000-0000-0000-0000-000000000000", "status": "accepted", "broker_ticket": "T" * 65},
     "broker_ticket"),
    ({"command": "00000000-0000-0000-0000-000000000000", "status": "failed", "error": "a\u0000b"}, "error"),
])
def test_a_bad_ack_field_is_named(signed, body, field):
    assert field in errors(signed.post("ack", body))


# --- fills -----------------------------------------------------------------------------

def test_fills_open_and_fill_the_order_and_a_replay_changes_nothing(signed, order):
    half = [fill_json("d-1", volume="0.10", price="1.08450", client_order_id=order.client_order_id, commission="-0.70"),
            fill_json("d-2", volume="0.18", price="1.08460", client_order_id=order.client_order_id,
                      commission="-1.26")]
    response = signed.post("fills", {"fills": half})
    assert response.status_code == 200, response.content
    assert response.json() == {"inserted": 2, "duplicates": 0}
    position = Position.objects.get()
    # Partial fills consolidate: one position at the volume-weighted price.
    assert (position.status, position.volume, position.origin, position.order) == ("open", D("0.28"), "platform",
                                                                                   order)
    assert position.open_price == D("1.08456429")  # (0.10 x 1.08450 + 0.18 x 1.08460) / 0.28, stored to 8 places
    assert position.commission == D("-1.96")
    order.refresh_from_db()
    assert (order.status, order.filled_volume) == ("filled", D("0.28"))

    before = stored_state()
    replay = signed.post("fills", {"fills": half})
    assert replay.json() == {"inserted": 0, "duplicates": 2}
    assert stored_state() == before


def test_out_fills_reduce_and_close_the_position(signed, bridge, shipped_instruments):
    opened = timezone.now() - timedelta(minutes=5)
    signed.post("fills", {"fills": [fill_json("d-1", volume="0.30", time=opened)]})
    signed.post("fills", {"fills": [fill_json("d-2", entry="out", side="sell", volume="0.10", price="1.08550",
                                              profit="10.00", time=opened + timedelta(minutes=1))]})
    position = Position.objects.get()
    assert (position.status, position.volume, position.origin) == ("open", D("0.20"), "external")

    response = signed.post("fills", {"fills": [fill_json("d-3", entry="out", side="sell", volume="0.20",
                                                         price="1.08650", profit="40.00",
                                                         time=opened + timedelta(minutes=2))]})
    assert response.json() == {"inserted": 1, "duplicates": 0}
    position.refresh_from_db()
    assert (position.status, position.volume, position.realized_pnl) == ("closed", D("0"), D("50.00"))
    assert position.close_price == D("1.08616667")  # (0.10 x 1.08550 + 0.20 x 1.08650) / 0.30


def test_a_close_fill_larger_than_the_position_is_422_and_stores_nothing(signed, shipped_instruments):
    signed.post("fills", {"fills": [fill_json("d-1", volume="0.10")]})
    before = stored_state()
    response = signed.post("fills", {"fills": [fill_json("d-2", entry="out", side="sell", volume="0.05"),
                                               fill_json("d-3", entry="out", side="sell", volume="0.06")]})
    assert "fills.1.volume" in errors(response)
    assert stored_state() == before


def test_an_in_and_an_out_fill_in_the_same_second_fold_in_before_out(signed, shipped_instruments):
    # Deal ids as text need not sort in the order the deals were made ("1000" < "999").
    moment = timezone.now().replace(microsecond=0)
    response = signed.post("fills", {"fills": [
        fill_json("999", volume="0.10", time=moment),
        fill_json("1000", entry="out", side="sell", volume="0.10", price="1.08350", profit="-10.00", time=moment),
    ]})
    assert response.status_code == 200, response.content
    assert Position.objects.get().status == Position.Status.CLOSED


@pytest.mark.parametrize("entry, side", [("in", "sell"), ("out", "buy")])
def test_a_fill_against_its_positions_side_is_422_and_stores_nothing(signed, shipped_instruments, entry, side):
    # A buy position: its in fills are buys, its out fills (closing it) sells.
    signed.post("fills", {"fills": [fill_json("d-1", side="buy", volume="0.10")]})
    before = stored_state()
    response = signed.post("fills", {"fills": [fill_json("d-2", entry=entry, side=side, volume="0.10")]})
    assert "fills.0.side" in errors(response)
    assert stored_state() == before


@pytest.mark.parametrize("change, field", [
    ({"instrument": "XAUUSD", "price": "2000.00"}, "fills.0.instrument"),
    ({"side": "sell"}, "fills.0.side"),
])
def test_an_in_fill_unlike_the_order_it_names_is_422_and_stores_nothing(signed, order, change, field):
    before = stored_state()
    response = signed.post("fills", {"fills": [fill_json("d-1", client_order_id=order.client_order_id,
                                                         volume="0.28", **change)]})
    assert field in errors(response)
    assert stored_state() == before


def test_fills_summing_past_what_a_position_can_store_are_422_not_500(signed, shipped_instruments):
    big = "999999999999.00000000"  # each fits a column of 12 digits before the point; their sum does not
    response = signed.post("fills", {"fills": [fill_json("d-1", volume=big), fill_json("d-2", volume=big)]})
    assert "fills.0.volume" in errors(response)
    assert not Fill.objects.exists()


def test_a_fill_of_another_bridges_order_is_422(signed, order, bob):
    other, other_secret = machine_services.create_client(model=Bridge, name="bob-mt5", owner=bob, account_ref="7")
    before = stored_state()
    response = BridgeClient(other, other_secret).post("fills", {"fills": [
        fill_json("d-1", client_order_id=order.client_order_id)]})
    assert "fills.0.client_order_id" in errors(response)
    assert stored_state() == before


@pytest.mark.parametrize(("change", "field"), [
    ({"volume": "-0.10"}, "volume"),
    ({"volume": "0"}, "volume"),
    ({"volume": 0.1}, "volume"),  # a JSON float
    ({"volume": "0,10"}, "volume"),
    ({"volume": "0.123456789"}, "volume"),  # finer than the stored precision
    ({"price": "1.084501"}, "price"),  # EURUSD is quoted with 5 decimals
    ({"price": "١٫٠٨"}, "price"),
    ({"instrument": "NOPE"}, "instrument"),
    ({"side": "long"}, "side"),
    ({"entry": "inout"}, "entry"),
    ({"time": "yesterday"}, "time"),
    ({"fill_id": ""}, "fill_id"),
    ({"fill_id": "x" * 65}, "fill_id"),
    ({"position_ticket": None}, "position_ticket"),
    ({"commission": "1e2"}, "commission"),
    ({"profit": "NaN"}, "profit"),
])
def test_a_bad_fill_field_is_named_with_its_index(signed, shipped_instruments, change, field):
    fills = [fill_json(f"d-{n}", position_ticket=f"p-{n}") for n in range(5)]
    fills[3].update(change)
    response = signed.post("fills", {"fills": fills})
    assert f"fills.3.{field}" in errors(response)
    assert not Fill.objects.exists() and not Position.objects.exists()


def test_up_to_1000_fills_per_call(signed, shipped_instruments):
    start = timezone.now() - timedelta(hours=1)
    fills = [fill_json(f"d-{n}", volume="0.01", time=start + timedelta(seconds=n)) for n in range(1000)]
    body = json.dumps({"fills": fills}).encode()
    response = signed.post("fills", raw=body)
    assert response.status_code == 200, response.content
    assert response.json() == {"inserted": 1000, "duplicates": 0}
    assert Position.objects.get().volume == D("10.00")

    too_many = json.dumps({"fills": [*fills, fill_json("d-1000")]}).encode()
    assert errors(signed.post("fills", raw=too_many)) == {"fills": ["Send at most 1000 items per call."]}


def test_a_body_over_1_mib_is_413(signed):
    response = signed.post("fills", raw=b'{"fills": [], "padding": "' + b"x" * (1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


# --- account ---------------------------------------------------------------------------

def test_an_account_snapshot_feeds_the_equity_curve_and_a_replay_changes_nothing(signed, bridge, alice,
                                                                                 shipped_instruments):
    signed.post("fills", {"fills": [fill_json("d-1", position_ticket="9001")]})
    moment = timezone.now().replace(microsecond=0)
    body = account_json(time=moment, equity="10012.50", positions=[{
        "ticket": "9001", "client_order_id": None, "instrument": "EURUSD", "side": "buy", "volume": "0.10",
        "open_price": "1.08450", "open_time": "2026-11-26T07:00:00Z", "stop_loss": None, "take_profit": "1.09000",
        "profit": "12.50"}])
    response = signed.post("account", body)
    assert response.status_code == 200, response.content
    snapshot = AccountSnapshot.objects.get()
    assert response.json() == {"snapshot": snapshot.pk, "positions": 1, "status": "ok",
                               "run": str(snapshot.reconciliation_runs.get().pk), "counts": {"match": 1}}
    assert (snapshot.time, snapshot.equity, snapshot.balance, snapshot.currency) == (moment, D("10012.50"),
                                                                                    D("10000"), "USD")
    assert snapshot.positions[0]["profit"] == "12.5" and snapshot.positions[0]["open_time"] == "2026-11-26T07:00:00Z"
    assert EquityPoint.objects.get(owner=alice).equity == D("10012.50")
    assert Position.objects.get().unrealized_pnl == D("12.50")

    before = stored_state()
    replay = signed.post("account", body)
    assert (replay.status_code, replay.json()) == (200, response.json())
    assert stored_state() == before


@pytest.mark.parametrize(("change", "field"), [
    ({"currency": "usd"}, "currency"),
    ({"currency": "USDT"}, "currency"),
    ({"equity": "1e4"}, "equity"),
    ({"balance": 10000.5}, "balance"),
    ({"margin_free": None}, "margin_free"),
    ({"time": "2026-13-01T00:00:00Z"}, "time"),
    ({"positions": [{"ticket": "1", "instrument": "EURUSD", "side": "buy", "volume": "-1", "open_price": "1.1",
                     "open_time": "2026-11-26T07:00:00Z"}]}, "positions.0.volume"),
    ({"positions": [{"ticket": "1", "instrument": "EURUSD", "side": "buy", "volume": "1", "open_price": "1.1",
                     "open_time": "later"}]}, "positions.0.open_time"),
    ({"positions": "none"}, "positions"),
])
def test_a_bad_account_field_is_named(signed, change, field):
    response = signed.post("account", {**account_json(), **change})
    assert field in errors(response)
    assert not AccountSnapshot.objects.exists()


def test_a_snapshot_dated_ahead_of_the_clock_is_422(signed, bridge):
    # One snapshot a day ahead (a clock gone wrong) would pass for the newest of
    # every real one after it: none of those would be reconciled or guarded.
    response = signed.post("account", account_json(time=timezone.now() + timedelta(days=1), equity="1000000"))
    assert "time" in errors(response)
    assert signed.post("account", account_json(time=timezone.now() + timedelta(seconds=60))).status_code == 200


def test_a_snapshot_in_another_currency_than_the_accounts_is_422(signed, bridge):
    assert bridge.currency == "USD"
    response = signed.post("account", {**account_json(equity="1500000"), "currency": "JPY"})
    assert "currency" in errors(response)
    assert not AccountSnapshot.objects.exists()


# --- paths -----------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["symbols", "poll", "ack", "fills", "account"])
def test_every_call_answers_with_and_without_a_trailing_slash(signed, call):
    for path in (f"/api/v1/bridge/{call}", f"/api/v1/bridge/{call}/"):
        response = signed.post(call, {}, path=path)
        # Only poll takes an empty object; the others name their missing fields.
        expected = 200 if call == "poll" else 422
        assert response.status_code == expected, (path, response.content)
