"""Reconciliation over the bridge API: every newest account snapshot is
compared with the books. Hand-written snapshots report what a broker that
disagrees with the books would report, to the cent and the second; the same
stories told by a real paper bridge process, closing and opening positions
by hand and filling an order in parts, are tests/test_reconciliation_scenarios.py."""

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from audit.models import AuditEntry
from execution import reconciliation, tasks
from execution.models import (
    AccountSnapshot,
    Bridge,
    Fill,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
)
from execution.tests.bridge_api import (  # noqa: F401 (fixtures)
    BridgeClient,
    account_json,
    bridge,
    bridge_and_secret,
    fill_json,
    rfc3339,
    signed,
)
from execution.tests.test_expiry import due_every_minute
from machines import services as machine_services
from tests.concurrency import run_together
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

HOUR_AGO = timezone.now().replace(microsecond=0) - timedelta(hours=1)


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def at_broker(ticket, *, client_order_id=None, instrument="EURUSD", side="buy", volume="0.10",
              open_price="1.08450", profit="0.00", open_time=HOUR_AGO) -> dict:
    """An open position as a bridge reports it in a snapshot."""
    return {"ticket": ticket, "client_order_id": client_order_id, "instrument": instrument, "side": side,
            "volume": volume, "open_price": open_price, "open_time": rfc3339(open_time), "stop_loss": None,
            "take_profit": None, "profit": profit}


class Broker:
    """A bridge reporting by hand: fills and snapshots, each snapshot a
    second after the one before."""

    def __init__(self, signed):
        self.signed, self.clock = signed, timezone.now().replace(microsecond=0)

    def fills(self, *fills):
        response = self.signed.post("fills", {"fills": list(fills)})
        assert response.status_code == 200, response.content
        return response.json()

    def snapshot(self, *positions, time=None) -> dict:
        if time is None:
            self.clock += timedelta(seconds=1)
        response = self.signed.post("account", account_json(time=time or self.clock, positions=positions))
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def broker(signed, shipped_instruments):
    return Broker(signed)


def newest_run() -> ReconciliationRun:
    return ReconciliationRun.objects.order_by("-created_at", "-id").first()


def items(run=None) -> list[tuple]:
    run = run or newest_run()
    return [(item.kind, item.ticket, item.action) for item in run.items.order_by("id")]


def open_by_fill(broker, ticket="9001", *, volume="0.10", price="1.08450", **fields):
    """A position the books know from its fill, opened an hour ago."""
    broker.fills(fill_json(f"in-{ticket}", position_ticket=ticket, volume=volume, price=price, time=HOUR_AGO,
                           **fields))
    return Position.objects.get(ticket=ticket, status="open")


# --- what the books and the broker disagree about -----------------------------------------

def test_a_broker_booking_another_average_price_shows_the_pnl_it_costs(alice, broker, bridge, specs, snapshot,
                                                                      place):
    # 1 % of 10,000 at a stop 500 ticks away: 0.20 lot, filled in two parts.
    order = place(alice, stop_loss=D("1.07950"))
    assert order.volume == D("0.20")
    broker.fills(*[fill_json(f"part-{n}", client_order_id=order.client_order_id, position_ticket="7001",
                             volume="0.10", price=price, time=HOUR_AGO) for n, price in ((1, "1.08450"),
                                                                                         (2, "1.08470"))])
    position = Position.objects.get()
    assert (position.volume, position.open_price) == (D("0.20"), D("1.08460"))

    # The broker booked it at 1.08485 (0.023 % off) and reports +95.00; at the price that profit implies,
    # 1.08960, the books' position makes +100.00.
    summary = broker.snapshot(at_broker("7001", client_order_id=order.client_order_id, volume="0.20",
                                        open_price="1.08485", profit="95.00"))
    assert (summary["status"], summary["counts"]) == ("drift", {"price_mismatch": 1})
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.ticket, item.position, item.action) == ("price_mismatch", "7001", position, "review")
    assert (item.expected["open_price"], item.expected["profit"]) == ("1.08460", "100.00")
    assert (item.actual["open_price"], item.actual["profit"]) == ("1.08485", "95.00")
    # Fills are the truth of what was traded: the books keep their figures.
    position.refresh_from_db()
    assert (position.open_price, position.unrealized_pnl) == (D("1.08460"), D("95.00"))

    # Within 0.01 % is the same price.
    broker.snapshot(at_broker("7001", client_order_id=order.client_order_id, volume="0.20", open_price="1.08470",
                              profit="98.00"))
    assert items() == [("match", "7001", "none")]


def test_a_volume_mismatch_is_reported_and_changes_nothing(broker):
    position = open_by_fill(broker, volume="0.10")
    before = sample("reconciliation_divergences_total", kind="volume_mismatch")
    summary = broker.snapshot(at_broker("9001", volume="0.07"))
    assert (summary["status"], summary["counts"]) == ("drift", {"volume_mismatch": 1})
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.position, item.action) == ("volume_mismatch", position, "review")
    assert (item.expected["volume"], item.actual["volume"]) == ("0.10", "0.07")
    assert Position.objects.get().volume == D("0.10")
    assert sample("reconciliation_divergences_total", kind="volume_mismatch") == before  # counted on commit only


def test_the_broker_holding_the_other_side_of_a_ticket_is_a_volume_mismatch(broker):
    # The same ticket and volume, but a sell at the broker against the books' buy: not the exposure booked.
    open_by_fill(broker, volume="0.10")
    summary = broker.snapshot(at_broker("9001", side="sell", volume="0.10"))
    assert (summary["status"], summary["counts"]) == ("drift", {"volume_mismatch": 1})
    item = ReconciliationItem.objects.get()
    assert (item.expected["side"], item.actual["side"], item.action) == ("buy", "sell", "review")


def test_positions_are_matched_by_ticket_then_client_order_id_then_instrument_and_side(alice, broker, specs,
                                                                                       snapshot, place):
    order = place(alice)
    by_ticket = open_by_fill(broker, "9001")
    by_order = open_by_fill(broker, "9002", client_order_id=order.client_order_id, volume="0.28")
    by_kind = open_by_fill(broker, "9003", side="sell")
    broker.snapshot(at_broker("9001"),
                    at_broker("B-2", client_order_id=order.client_order_id, volume="0.28"),
                    at_broker("B-3", side="sell"))
    run = newest_run()
    assert run.status == "ok"
    assert [(item.kind, item.ticket, item.position) for item in run.items.order_by("id")] == [
        ("match", "9001", by_ticket), ("match", "B-2", by_order), ("match", "B-3", by_kind)]


def test_a_position_unknown_to_the_books_is_adopted_as_external(alice, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        summary = broker.snapshot(at_broker("5501", side="sell", volume="0.30", open_price="1.08500",
                                            profit="-4.20"))
    assert (summary["status"], summary["counts"]) == ("drift", {"unknown_at_broker": 1})
    adopted = Position.objects.get()
    assert (adopted.origin, adopted.ticket, adopted.side, adopted.volume, adopted.open_price) == (
        "external", "5501", "sell", D("0.30"), D("1.08500"))
    assert (adopted.open_time, adopted.unrealized_pnl, adopted.owner, adopted.order) == (
        HOUR_AGO, D("-4.20"), alice, None)
    assert items() == [("unknown_at_broker", "5501", "adopted")]
    assert AuditEntry.objects.get(action="position.open").meta["origin"] == "external"

    # From now on it is the books' own: the next snapshot matches it, and its deal, when it comes, is its fill.
    broker.snapshot(at_broker("5501", side="sell", volume="0.30", open_price="1.08500"))
    assert items() == [("match", "5501", "none")]
    broker.fills(fill_json("manual-open-5501", position_ticket="5501", side="sell", volume="0.30", price="1.08500",
                           time=HOUR_AGO))
    assert Position.objects.get() == adopted and Fill.objects.get().position == adopted


def test_a_position_of_an_instrument_the_platform_does_not_list_is_reported_not_adopted(broker):
    summary = broker.snapshot(at_broker("5502", instrument="BTCUSD", open_price="60000.00"))
    assert summary["counts"] == {"unknown_at_broker": 1}
    assert items() == [("unknown_at_broker", "5502", "review")]
    assert not Position.objects.exists()


def test_missed_snapshots_count_consecutive_ones_only(broker):
    position = open_by_fill(broker)
    for _ in range(2):
        broker.snapshot()
    broker.snapshot(at_broker("9001"))
    position.refresh_from_db()
    assert position.missed_snapshots == 0
    for _ in range(2):
        broker.snapshot()
    position.refresh_from_db()
    assert (position.status, position.missed_snapshots) == ("open", 2)


def test_the_brokers_closing_deal_arriving_after_the_close_completes_the_position(broker):
    position = open_by_fill(broker)
    for _ in range(3):
        broker.snapshot()
    assert Position.objects.get().close_reason == "broker"
    broker.fills(fill_json("manual-close-9001", entry="out", side="sell", position_ticket="9001", price="1.08550",
                           profit="10.00", time=HOUR_AGO + timedelta(minutes=30)))
    position.refresh_from_db()
    assert (position.status, position.close_price, position.realized_pnl, position.close_reason) == (
        "closed", D("1.08550"), D("10.00"), "manual")
    assert AuditEntry.objects.filter(action="position.close").count() == 1


# --- what is not yet expected ---------------------------------------------------------------

@pytest.fixture
def sent_order(alice, signed, specs, snapshot, place):
    """alice's order, polled by her bridge: `sent`."""
    order = place(alice)
    assert signed.post("poll", {}).status_code == 200
    order.refresh_from_db()
    assert order.status == "sent"
    return order


def sent(order, seconds_ago):
    Order.objects.filter(pk=order.pk).update(sent_at=timezone.now() - timedelta(seconds=seconds_ago))


def test_an_order_sent_one_poll_interval_ago_is_not_yet_expected_at_the_broker(broker, sent_order, settings):
    interval = settings.BRIDGE_POLL_INTERVAL_SECONDS
    assert interval == 5
    # The broker filled it and the fill is here, but the snapshot was taken a moment before.
    sent(sent_order, interval)
    broker.fills(fill_json("f-1", client_order_id=sent_order.client_order_id, position_ticket="7001",
                           volume="0.28", time=timezone.now() - timedelta(seconds=interval)))
    summary = broker.snapshot()
    assert (summary["status"], summary["counts"]) == ("ok", {})
    assert Position.objects.get().missed_snapshots == 0

    # Two poll intervals on, it is expected.
    sent(sent_order, 2 * interval + 1)
    Position.objects.update(open_time=timezone.now() - timedelta(seconds=2 * interval + 1))
    assert broker.snapshot()["counts"] == {"missing_at_broker": 1}
    assert Position.objects.get().missed_snapshots == 1


def test_a_broker_position_whose_fill_is_late_is_awaited_not_adopted(broker, sent_order, settings):
    reported = at_broker("7001", client_order_id=sent_order.client_order_id, volume="0.28")
    # Within two poll intervals of the order being sent, its fill is on its way.
    sent(sent_order, settings.BRIDGE_POLL_INTERVAL_SECONDS)
    assert broker.snapshot(reported)["counts"] == {}

    sent(sent_order, 2 * settings.BRIDGE_POLL_INTERVAL_SECONDS + 1)
    summary = broker.snapshot(reported)
    assert (summary["status"], summary["counts"]) == ("drift", {"late_fill": 1})
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.ticket, item.position, item.action) == ("late_fill", "7001", None, "await_fill")
    assert (item.expected["order"], item.expected["status"]) == (str(sent_order.pk), "sent")
    assert not Position.objects.exists()

    broker.fills(fill_json("f-1", client_order_id=sent_order.client_order_id, position_ticket="7001",
                           volume="0.28", time=HOUR_AGO))
    assert broker.snapshot(reported)["counts"] == {"match": 1}
    assert Position.objects.get().order == sent_order


# --- silence ------------------------------------------------------------------------

def test_a_silent_account_is_marked_stale_once_and_its_orders_are_denied(alice, broker, specs, place, settings):
    assert settings.ACCOUNT_STALE_SECONDS == 300
    position = open_by_fill(broker)
    last = timezone.now() - timedelta(seconds=301)
    broker.snapshot(at_broker("9001"), time=last)  # the newest the bridge sent, 301 s ago
    order = place(alice)
    assert (order.status, order.reasons) == ("denied", ["account-stale"])

    assert reconciliation.mark_stale_accounts(now=last + timedelta(seconds=300)) == 0
    assert reconciliation.mark_stale_accounts() == 1
    stale = newest_run()
    assert (stale.status, stale.snapshot.time, items(stale)) == ("stale", last, [])
    entry = AuditEntry.objects.filter(action="reconciliation.run").latest("seq")
    assert (entry.target_id, entry.meta["status"]) == (str(stale.pk), "stale")
    body = bearer(alice).get("/api/v1/reconciliation/").json()
    assert (body["results"][0]["status"], body["results"][0]["items"]) == ("stale", [])
    # Once per silence, not at every sweep; an older snapshot arriving late does not end it.
    broker.snapshot(time=last - timedelta(seconds=60))
    assert reconciliation.mark_stale_accounts() == 0
    assert ReconciliationRun.objects.filter(status="stale").count() == 1
    # Never read as flat: silence misses nothing and closes nothing.
    position.refresh_from_db()
    assert (position.status, position.missed_snapshots) == ("open", 0)

    # A fresh snapshot ends the silence; the next one is marked again.
    broker.snapshot(at_broker("9001"), time=timezone.now())
    assert newest_run().status == "ok"
    assert place(alice).status == "pending"
    assert reconciliation.mark_stale_accounts() == 0
    assert reconciliation.mark_stale_accounts(now=timezone.now() + timedelta(seconds=301)) == 1
    assert newest_run().status == "stale"


def test_the_stale_sweep_is_a_task_run_every_minute(broker, monkeypatch):
    broker.snapshot(time=timezone.now() - timedelta(seconds=600))
    assert due_every_minute(tasks.mark_stale_accounts)
    assert tasks.mark_stale_accounts.call_local() == 1
    assert AuditEntry.objects.get(action="reconciliation.run", meta__status="stale").actor == \
        "task mark_stale_accounts"


def test_a_bridge_that_never_reported_is_not_marked(bridge):
    assert reconciliation.mark_stale_accounts(now=timezone.now() + timedelta(days=1)) == 0


# --- replays and late snapshots --------------------------------------------------------

def test_a_replayed_snapshot_changes_nothing(broker, signed):
    open_by_fill(broker)
    body = account_json(time=timezone.now(), positions=[])
    first = signed.post("account", body)
    entries, position = AuditEntry.objects.count(), Position.objects.get()
    replay = signed.post("account", body)
    assert (replay.status_code, replay.json()) == (200, first.json())
    assert first.json()["counts"] == {"missing_at_broker": 1}
    assert ReconciliationRun.objects.count() == 1 and AuditEntry.objects.count() == entries
    assert Position.objects.get().missed_snapshots == position.missed_snapshots == 1


def test_an_older_snapshot_arriving_late_is_stored_but_not_compared(broker):
    open_by_fill(broker)
    now = timezone.now()
    broker.snapshot(at_broker("9001"), time=now)
    summary = broker.snapshot(time=now - timedelta(seconds=30))
    assert (summary["status"], summary["run"], summary["counts"]) == (None, None, {})
    assert AccountSnapshot.objects.count() == 2 and ReconciliationRun.objects.count() == 1
    assert Position.objects.get().missed_snapshots == 0


def test_the_snapshot_answer_is_the_runs_summary(broker):
    open_by_fill(broker, "9001")
    open_by_fill(broker, "9002")
    summary = broker.snapshot(at_broker("9001"), at_broker("8000", side="sell"))
    run = newest_run()
    assert summary == {"snapshot": run.snapshot_id, "positions": 2, "status": "drift", "run": str(run.pk),
                       "counts": {"match": 1, "missing_at_broker": 1, "unknown_at_broker": 1}}
    entry = AuditEntry.objects.get(action="reconciliation.run")
    assert (entry.target_id, entry.meta["status"], entry.meta["counts"]) == (str(run.pk), "drift", summary["counts"])


# --- the list ---------------------------------------------------------------------------

@pytest.fixture
def bob_broker(bob, shipped_instruments):
    bridge, secret = machine_services.create_client(model=Bridge, name="bob-mt5", owner=bob, account_ref="60123")
    return Broker(BridgeClient(bridge, secret))


def test_the_list_shows_own_runs_newest_first_and_staff_filter_by_bridge_and_user(alice, bob, operator, broker,
                                                                                  specs, bob_broker):
    position = open_by_fill(broker)
    broker.snapshot(at_broker("9001", profit="1.50"))
    broker.snapshot()
    bob_broker.snapshot()
    alices = list(ReconciliationRun.objects.filter(bridge__owner=alice).order_by("-created_at"))

    body = bearer(alice).get("/api/v1/reconciliation/").json()
    assert [run["id"] for run in body["results"]] == [str(run.pk) for run in alices]
    assert body["results"][1] == {
        "id": str(alices[1].pk), "time": rfc3339(alices[1].time), "status": "ok",
        "items": [{"kind": "match", "ticket": "9001", "position": str(position.pk),
                   "expected": {"ticket": "9001", "instrument": "EURUSD", "side": "buy", "volume": "0.10",
                                "open_price": "1.08450", "profit": "1.50"},
                   "actual": {"ticket": "9001", "instrument": "EURUSD", "side": "buy", "volume": "0.10",
                              "open_price": "1.08450", "profit": "1.50"},
                   "action": "none"}]}
    assert body["results"][0]["items"] == [{
        "kind": "missing_at_broker", "ticket": "9001", "position": str(position.pk),
        "expected": {"ticket": "9001", "client_order_id": None, "instrument": "EURUSD", "side": "buy",
                     "volume": "0.10", "open_price": "1.08450", "missed_snapshots": 1},
        "actual": None, "action": "wait"}]
    assert len(bearer(bob).get("/api/v1/reconciliation/").json()["results"]) == 1
    staff = bearer(operator)
    assert len(staff.get("/api/v1/reconciliation/").json()["results"]) == 3
    assert len(staff.get(f"/api/v1/reconciliation/?bridge={broker.signed.bridge.key_id}").json()["results"]) == 2
    assert len(staff.get("/api/v1/reconciliation/?user=bob").json()["results"]) == 1
    # A user's filter only narrows their own.
    assert bearer(alice).get("/api/v1/reconciliation/?user=bob").json()["results"] == []
    assert bearer(alice).get("/api/v1/reconciliation/?page_size=1").json()["next"] is not None


def test_the_list_reads_in_a_constant_number_of_queries(alice, broker, settings):
    settings.WORKER_CACHE_SECONDS = 0  # every request reads its user: the same count each time
    api = bearer(alice)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/reconciliation/").status_code == 200
        return len(captured)

    open_by_fill(broker)
    broker.snapshot(at_broker("9001"))
    one = queries()
    for n in range(10):
        open_by_fill(broker, f"t{n}")
    for _ in range(10):
        broker.snapshot(at_broker("9001"), *[at_broker(f"t{n}") for n in range(10)])
    assert len(api.get("/api/v1/reconciliation/").json()["results"]) == 11
    assert queries() == one


def test_the_list_needs_a_token(anon):
    response = anon.get("/api/v1/reconciliation/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


# --- the console -------------------------------------------------------------------------

def test_runs_and_items_are_shown_read_only_in_the_console(client, superuser, broker):
    open_by_fill(broker)
    broker.snapshot(at_broker("9001", volume="0.20"))
    run, item = newest_run(), ReconciliationItem.objects.get()
    client.force_login(superuser)
    for path in ("/admin/execution/reconciliationrun/", f"/admin/execution/reconciliationrun/{run.pk}/change/",
                 "/admin/execution/reconciliationitem/?kind__exact=volume_mismatch",
                 f"/admin/execution/reconciliationitem/{item.pk}/change/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"volume_mismatch" in response.content
    for path in ("/admin/execution/reconciliationrun/add/", f"/admin/execution/reconciliationrun/{run.pk}/delete/",
                 "/admin/execution/reconciliationitem/add/"):
        assert client.get(path).status_code == 403, path


# --- races ---------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_snapshot_sent_twice_at_once_is_compared_once(bridge_and_secret, shipped_instruments):
    broker = Broker(BridgeClient(*bridge_and_secret))
    open_by_fill(broker)
    body = json.dumps(account_json(time=timezone.now(), positions=[])).encode()
    responses = run_together([lambda: BridgeClient(*bridge_and_secret).post("account", raw=body)] * 2)
    assert [response.status_code for response in responses] == [200, 200]
    assert responses[0].json() == responses[1].json()
    assert ReconciliationRun.objects.count() == 1
    assert Position.objects.get().missed_snapshots == 1
