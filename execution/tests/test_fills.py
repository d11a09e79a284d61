"""Fills are stored once and make the positions: exact whatever order or how
often they arrive."""

import random
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from audit.models import AuditEntry
from core.problems import Conflict
from execution import services
from execution.models import Command, Fill, Order, Position
from execution.tests.conftest import fill

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


# Two positions: 9001 built in two ins and closed in two outs, 9002 opened and
# half closed. Hand-computed figures below.
HISTORY = [
    fill("d1", volume="0.10", price="1.08450", time=at(0), commission="-0.70"),
    fill("d2", volume="0.20", price="1.08480", time=at(1), commission="-1.40"),
    fill("d3", entry="out", side="sell", volume="0.15", price="1.08600", time=at(5), profit="19.50",
         commission="-1.05"),
    fill("d4", entry="out", side="sell", volume="0.15", price="1.08700", time=at(9), profit="33.00",
         commission="-1.05", swap="-0.30"),
    fill("d5", side="sell", volume="0.50", price="151.250", instrument="USDJPY", position_ticket="9002",
         time=at(2)),
    fill("d6", entry="out", side="buy", volume="0.20", price="151.100", instrument="USDJPY", position_ticket="9002",
         time=at(7), profit="19.85"),
]


def figures(bridge):
    return {p.ticket: (p.status, p.side, p.volume, p.opened_volume, p.open_price, p.open_time, p.close_price,
                       p.close_time, p.realized_pnl, p.commission, p.swap, p.origin)
            for p in Position.objects.filter(bridge=bridge)}


EXPECTED = {
    # open (0.1 x 1.08450 + 0.2 x 1.08480) / 0.3 = 1.08470; close (1.08600 + 1.08700) / 2 = 1.08650
    # realized 19.50 + 33.00 - 0.70 - 1.40 - 1.05 - 1.05 - 0.30 = 48.00
    "9001": ("closed", "buy", D("0"), D("0.3"), D("1.08470"), at(0), D("1.08650"), at(9), D("48.00"),
             D("-4.20"), D("-0.30"), "external"),
    "9002": ("open", "sell", D("0.3"), D("0.5"), D("151.250"), at(2), D("151.100"), None, D("19.85"),
             D("0"), D("0"), "external"),
}


def test_fills_make_positions_with_volume_weighted_prices(bridge):
    assert services.record_fills(bridge=bridge, fills=HISTORY) == (6, 0)
    assert figures(bridge) == EXPECTED
    closed = Position.objects.get(ticket="9001")
    assert closed.close_reason == "manual" and closed.owner == bridge.owner
    assert Fill.objects.filter(position=closed).count() == 4


def test_a_replay_stores_nothing_and_changes_nothing(bridge):
    services.record_fills(bridge=bridge, fills=HISTORY)
    entries = AuditEntry.objects.count()
    assert services.record_fills(bridge=bridge, fills=HISTORY) == (0, 6)
    assert services.record_fills(bridge=bridge, fills=HISTORY[:2] + [fill("d7", volume="0.10", time=at(3),
                                                                         position_ticket="9003")]) == (1, 2)
    assert Fill.objects.count() == 7 and AuditEntry.objects.count() == entries + 2  # fill.record, position.open
    assert figures(bridge)["9001"] == EXPECTED["9001"]


def test_a_fill_id_twice_in_one_call_is_stored_once(bridge):
    assert services.record_fills(bridge=bridge, fills=[HISTORY[0], HISTORY[0]]) == (1, 1)
    assert Position.objects.get().opened_volume == D("0.1")


@pytest.mark.parametrize("arrival", ["shuffled", "twice", "out before its in", "an earlier out in a later call"])
def test_the_order_of_arrival_does_not_change_the_figures(bridge, arrival):
    history = list(HISTORY)
    if arrival == "shuffled":
        random.Random(7).shuffle(history)
        services.record_fills(bridge=bridge, fills=history)
    elif arrival == "twice":
        services.record_fills(bridge=bridge, fills=history[:3])
        services.record_fills(bridge=bridge, fills=history)
    elif arrival == "out before its in":
        services.record_fills(bridge=bridge, fills=list(reversed(history)))
    else:
        # d4 (the later out) before d3 (the earlier one): folded in time order all the same
        for call in ([history[0], history[1], history[3]], [history[2]], [history[4]], [history[5]]):
            services.record_fills(bridge=bridge, fills=call)
    assert figures(bridge) == EXPECTED


def test_partial_fills_of_an_order_consolidate_into_one_platform_position(alice, bridge, specs, snapshot, place):
    order = place(alice)  # 0.28 lots
    services.record_fills(bridge=bridge, fills=[
        fill("p1", client_order_id=order.client_order_id, volume="0.10", price="1.08450")])
    order.refresh_from_db()
    assert (order.status, order.filled_volume) == ("partially_filled", D("0.1"))

    services.record_fills(bridge=bridge, fills=[
        fill("p2", client_order_id=order.client_order_id, volume="0.18", price="1.08460")])
    order.refresh_from_db()
    assert (order.status, order.filled_volume) == ("filled", D("0.28"))
    position = Position.objects.get()
    assert (position.origin, position.order, position.signal_id) == ("platform", order, order.signal_id)
    assert (position.opened_volume, position.open_price) == (D("0.28"), D("1.08456429"))  # 0.303742 / 0.28
    assert (position.stop_loss, position.take_profit, position.initial_risk) == (
        D("1.08100"), D("1.09000"), D("98"))
    assert [e.meta["status"] for e in AuditEntry.objects.filter(action="order.transition").order_by("seq")] == [
        "partially_filled", "filled"]
    assert AuditEntry.objects.filter(action="position.open", target_id=str(position.pk)).count() == 1


def test_a_close_the_user_asked_for_closes_with_their_reason(alice, bridge, specs, snapshot, place):
    order = place(alice)
    services.record_fills(bridge=bridge, fills=[fill("o1", client_order_id=order.client_order_id, volume="0.28")])
    position = Position.objects.get()
    command = services.request_position_close(user=alice, position_id=str(position.pk))
    assert (command.type, command.position_ticket, command.volume, command.reason) == (
        "close", "9001", D("0.28"), "user")
    # Asking again returns the same command.
    assert services.request_position_close(user=alice, position_id=position.pk).pk == command.pk

    services.record_fills(bridge=bridge, fills=[fill("o2", entry="out", side="sell", volume="0.28",
                                                     price="1.08500", profit="14.00")])
    position.refresh_from_db()
    assert (position.status, position.close_reason, position.realized_pnl) == ("closed", "user", D("14.00"))
    assert AuditEntry.objects.get(action="position.close").meta["close_reason"] == "user"


@pytest.mark.parametrize(("price", "reason"), [("1.08100", "stop_loss"), ("1.09010", "take_profit"),
                                               ("1.08500", "manual")])
def test_a_close_at_the_broker_is_read_from_its_price(alice, bridge, specs, snapshot, place, price, reason):
    order = place(alice)
    services.record_fills(bridge=bridge, fills=[
        fill("o1", client_order_id=order.client_order_id, volume="0.28", time=at(0)),
        fill("o2", entry="out", side="sell", volume="0.28", price=price, time=at(1))])
    assert Position.objects.get().close_reason == reason


def test_a_closed_position_cannot_be_closed_again(alice, bridge):
    services.record_fills(bridge=bridge, fills=HISTORY[:4])
    with pytest.raises(Conflict) as raised:
        services.request_position_close(user=alice, position_id=Position.objects.get().pk)
    assert raised.value.slug == "position-not-open"
    assert not Command.objects.exists()


def test_an_unknown_client_order_id_opens_an_external_position(bridge):
    services.record_fills(bridge=bridge, fills=[fill("x1", client_order_id="placed-by-hand")])
    position = Position.objects.get()
    assert (position.origin, position.order, position.signal) == ("external", None, None)
    assert Fill.objects.get().client_order_id == "placed-by-hand"


def refused(bridge, fills) -> dict:
    before = (Fill.objects.count(), Position.objects.count(), Order.objects.values_list("status", "filled_volume")
              .order_by("pk").first(), AuditEntry.objects.count())
    with pytest.raises(ValidationError) as raised:
        services.record_fills(bridge=bridge, fills=fills)
    after = (Fill.objects.count(), Position.objects.count(), Order.objects.values_list("status", "filled_volume")
             .order_by("pk").first(), AuditEntry.objects.count())
    assert after == before  # a refused call changes nothing
    return {field: str(messages[0]) for field, messages in raised.value.detail.items()}


def test_every_bad_field_is_named_and_nothing_is_stored(bridge):
    errors = refused(bridge, [
        fill("b1"),
        fill("b2", instrument="DOGEUSD"),
        fill("b3", price="1.084501"),  # EURUSD has 5 decimal places
    ])
    assert set(errors) == {"fills.1.instrument", "fills.2.price"}
    assert "5 decimal places" in errors["fills.2.price"]


def test_a_price_with_trailing_zeros_is_within_the_digits(bridge):
    assert services.record_fills(bridge=bridge, fills=[fill("z1", instrument="USDJPY", price="151.2500")]) == (1, 0)


def test_a_fill_of_another_bridges_order_is_refused(alice, bob, bridge, make_bridge, specs, snapshot, place):
    order = place(alice)
    errors = refused(make_bridge(bob), [fill("c1"), fill("c2", client_order_id=order.client_order_id)])
    assert set(errors) == {"fills.1.client_order_id"}


def test_closing_more_than_is_open_is_refused(bridge):
    services.record_fills(bridge=bridge, fills=HISTORY[:2])  # 0.3 open
    errors = refused(bridge, [
        fill("v1", entry="out", side="sell", volume="0.20", time=at(5)),
        fill("v2", entry="out", side="sell", volume="0.20", time=at(6)),
    ])
    assert set(errors) == {"fills.1.volume"}
    assert "9001" in errors["fills.1.volume"]


def test_an_out_with_no_in_is_refused(bridge):
    assert set(refused(bridge, [fill("v3", entry="out", side="sell")])) == {"fills.0.volume"}


def test_an_out_dated_before_its_in_is_refused(bridge):
    errors = refused(bridge, [fill("v4", time=at(5)), fill("v5", entry="out", side="sell", time=at(4))])
    assert set(errors) == {"fills.1.volume"}


def test_a_fill_of_another_instrument_than_its_position_is_refused(bridge):
    services.record_fills(bridge=bridge, fills=HISTORY[:1])
    assert set(refused(bridge, [fill("i1", instrument="USDJPY", price="151.250")])) == {"fills.0.instrument"}


def test_a_fill_after_expiry_opens_the_position_and_a_close_follows(alice, bridge, specs, snapshot, place):
    order = place(alice)
    assert services.expire_orders(now=order.expires_at) == 1

    services.record_fills(bridge=bridge, fills=[fill("l1", client_order_id=order.client_order_id, volume="0.28")])
    order.refresh_from_db()
    assert (order.status, order.filled_volume) == ("expired", D("0.28"))
    position = Position.objects.get()
    assert (position.status, position.origin, position.order) == ("open", "platform", order)
    close = Command.objects.get(type="close")
    assert (close.position, close.reason, close.volume) == (position, "approval_expired", D("0.28"))
    assert AuditEntry.objects.get(action="position.close_request").meta["reason"] == "approval_expired"

    # The broker closes it: the reason is the one the platform asked with.
    services.record_fills(bridge=bridge, fills=[fill("l2", entry="out", side="sell", volume="0.28")])
    assert Position.objects.get().close_reason == "approval_expired"


def test_a_fill_arriving_after_expiry_before_the_sweep_expires_the_order(alice, bridge, specs, snapshot, place,
                                                                         monkeypatch):
    order = place(alice)
    services.poll_commands(bridge=bridge)  # the bridge received the open
    later = order.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)

    services.record_fills(bridge=bridge, fills=[fill("l3", client_order_id=order.client_order_id, volume="0.28")])
    order.refresh_from_db()
    assert order.status == "expired"
    assert sorted(Command.objects.values_list("type", flat=True)) == ["cancel", "close", "open"]
    assert Command.objects.get(type="close").reason == "approval_expired"


def test_a_call_is_audited_entry_by_entry_in_one_segment_of_the_chain(alice, bridge, specs, snapshot, place):
    # One order filled, its position and an external one opened, the external one closed, then the call.
    order = place(alice)
    before = AuditEntry.objects.count()
    services.record_fills(bridge=bridge, fills=[
        fill("s1", client_order_id=order.client_order_id, volume="0.28", time=at(0)),
        fill("s2", position_ticket="9002", time=at(1)),
        fill("s3", entry="out", side="sell", position_ticket="9002", price="1.08500", profit="5.00", time=at(2))])

    platform, external = Position.objects.get(ticket="9001"), Position.objects.get(ticket="9002")
    entries = list(AuditEntry.objects.order_by("seq")[before:])
    assert [(entry.action, entry.target_id) for entry in entries] == [
        ("order.transition", str(order.pk)), ("position.open", str(platform.pk)),
        ("position.open", str(external.pk)), ("position.close", str(external.pk)), ("fill.record", str(bridge.pk))]
    assert [entry.seq for entry in entries] == list(range(entries[0].seq, entries[0].seq + 5))
    assert (entries[0].meta["status"], entries[0].meta["client_order_id"], D(entries[0].meta["filled_volume"])) == (
        "filled", order.client_order_id, D("0.28"))
    assert (entries[3].meta["close_reason"], D(entries[3].meta["realized_pnl"])) == ("manual", D("5"))
    assert entries[4].meta == {"inserted": 3, "duplicates": 0, "fill_ids": ["s1", "s2", "s3"]}


def test_a_ticket_opened_again_closes_with_its_own_reason_not_its_earlier_lifes(bridge, user_close_executed):
    # The user's close of the ticket's first life executed long ago; the platform
    # asked nothing of its second life, which the broker stopped out.
    position, t0 = user_close_executed
    services.record_fills(bridge=bridge, fills=[fill("a2", entry="out", side="sell", volume="0.28", price="1.08100",
                                                     profit="-98", time=t0 + timedelta(minutes=1))])
    position.refresh_from_db()
    assert (position.status, position.close_reason) == ("closed", "user")

    services.record_fills(bridge=bridge, fills=[fill("a3", volume="0.10", price="1.08450",
                                                     time=t0 + timedelta(minutes=2))])
    position.refresh_from_db()
    assert position.status == "open"
    services.record_fills(bridge=bridge, fills=[fill("a4", entry="out", side="sell", volume="0.10", price="1.08050",
                                                     profit="-40", time=t0 + timedelta(minutes=3))])
    position.refresh_from_db()
    # Every out fill at or below the 1.08100 stop: (0.28 x 1.081 + 0.10 x 1.0805) / 0.38.
    assert (position.status, position.close_price) == ("closed", D("1.08086842"))
    assert position.close_reason == "stop_loss"


def test_a_ticket_closed_and_opened_again_in_one_fills_call_does_not_inherit_its_first_lifes_close(
        bridge, user_close_executed):
    # As the test above, but the bridge reports the first life's close and the
    # second life's open in one call (a batch, as bridges send).
    position, t0 = user_close_executed
    services.record_fills(bridge=bridge, fills=[
        fill("a2", entry="out", side="sell", volume="0.28", price="1.08100", profit="-98",
             time=t0 + timedelta(minutes=1)),
        fill("a3", volume="0.10", price="1.08450", time=t0 + timedelta(minutes=2)),
    ])
    position.refresh_from_db()
    assert position.status == "open"

    services.record_fills(bridge=bridge, fills=[fill("a4", entry="out", side="sell", volume="0.10", price="1.08050",
                                                     profit="-40", time=t0 + timedelta(minutes=3))])
    position.refresh_from_db()
    assert position.status == "closed"
    assert position.close_reason == "stop_loss"  # the broker's stop, not the user's close of the first life
