"""A person's orders and positions over HTTP (JWT): their own, staff
everyone's, another user's a 404; closing a position; the kill switch."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from execution import services
from execution.models import Command, Order, Position
from execution.serializers import CommandSerializer, OrderSerializer, PositionSerializer
from execution.tests.conftest import fill
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


def rfc3339(moment):
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def bob_bridge(bob, make_bridge):
    return make_bridge(bob)


def open_positions(bridge, count, *, prefix="p"):
    """`count` external EURUSD positions of 0.10 lots, one fill each."""
    services.record_fills(bridge=bridge, fills=[fill(f"{prefix}-{n}", position_ticket=f"{prefix}-{n}")
                                                for n in range(count)])
    return list(Position.objects.filter(bridge=bridge, ticket__startswith=f"{prefix}-"))


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- orders ------------------------------------------------------------------------

def test_an_order_reads_as_the_contract_writes_it(alice, specs, snapshot, place):
    order = place(alice)
    response = bearer(alice).get(f"/api/v1/orders/{order.pk}/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": str(order.pk), "signal": str(order.signal_id), "approval": str(order.approval_id),
        "instrument": "EURUSD", "side": "buy", "volume": "0.28", "status": "pending", "reasons": [],
        "client_order_id": order.client_order_id, "broker_ticket": None, "created_at": rfc3339(order.created_at),
        "expires_at": rfc3339(order.expires_at),
    }


def test_a_denied_order_lists_its_reasons(alice, bridge, place):
    order = place(alice, stop_loss=None)
    body = bearer(alice).get(f"/api/v1/orders/{order.pk}/").json()
    assert (body["status"], body["volume"], body["reasons"]) == (
        "denied", None, ["no-stop-loss", "no-symbol-specs", "account-stale"])


def test_orders_are_the_users_own_newest_first_and_staff_see_all(alice, bob, bob_bridge, operator, specs, snapshot,
                                                                  place):
    first, second = place(alice), place(alice)
    bobs = place(bob)
    assert ids(bearer(alice).get("/api/v1/orders/")) == [str(second.pk), str(first.pk)]
    assert ids(bearer(bob).get("/api/v1/orders/")) == [str(bobs.pk)]
    assert set(ids(bearer(operator).get("/api/v1/orders/"))) == {str(first.pk), str(second.pk), str(bobs.pk)}
    assert bearer(alice).get(f"/api/v1/orders/{bobs.pk}/").status_code == 404
    assert bearer(operator).get(f"/api/v1/orders/{bobs.pk}/").status_code == 200


def test_orders_filter_by_status_instrument_and_creation_time(alice, specs, snapshot, place):
    eurusd = place(alice)
    gold = place(alice, symbol="XAUUSD", entry_price=D("2650.00"), stop_loss=D("2640.00"), take_profit=D("2670.00"))
    denied = place(alice, stop_loss=None)
    Order.objects.filter(pk=eurusd.pk).update(created_at=timezone.now() - timedelta(days=1))
    api = bearer(alice)
    assert ids(api.get("/api/v1/orders/?status=denied")) == [str(denied.pk)]
    assert set(ids(api.get("/api/v1/orders/?status=pending"))) == {str(eurusd.pk), str(gold.pk)}
    assert ids(api.get("/api/v1/orders/?instrument=xauusd")) == [str(gold.pk)]
    since = rfc3339(timezone.now() - timedelta(hours=1))
    assert str(eurusd.pk) not in ids(api.get("/api/v1/orders/", {"created_after": since}))
    assert ids(api.get("/api/v1/orders/", {"created_before": since})) == [str(eurusd.pk)]
    assert api.get("/api/v1/orders/?status=lost").status_code == 422


def test_an_unfilled_order_past_its_expiry_reads_expired_at_once(alice, specs, snapshot, place):
    order = place(alice)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    api = bearer(alice)
    assert api.get(f"/api/v1/orders/{order.pk}/").json()["status"] == "expired"
    assert ids(api.get("/api/v1/orders/?status=expired")) == [str(order.pk)]
    assert ids(api.get("/api/v1/orders/?status=pending")) == []


# --- positions ---------------------------------------------------------------------

def test_a_position_reads_as_the_contract_writes_it(alice, bridge, specs, snapshot, place):
    order = place(alice)
    opened = timezone.now().replace(microsecond=0)
    services.record_fills(bridge=bridge, fills=[fill("d-1", volume="0.28", client_order_id=order.client_order_id,
                                                     time=opened, commission="-1.96")])
    position = Position.objects.get()
    response = bearer(alice).get(f"/api/v1/positions/{position.pk}/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": str(position.pk), "status": "open", "instrument": "EURUSD", "side": "buy", "volume": "0.28",
        "open_price": "1.08450", "open_time": rfc3339(opened), "stop_loss": "1.08100", "take_profit": "1.09000",
        "close_price": None, "close_time": None, "close_reason": None, "realized_pnl": "-1.96",
        "unrealized_pnl": None, "commission": "-1.96", "swap": "0.00", "origin": "platform",
        "signal": str(order.signal_id), "order": str(order.pk), "ticket": "9001", "initial_risk": "98.00",
    }


def test_positions_filter_open_and_closed_own_rows_only(alice, bob, bridge, bob_bridge, operator):
    still_open, closed = open_positions(bridge, 2)
    services.record_fills(bridge=bridge, fills=[fill("out", entry="out", side="sell",
                                                     position_ticket=closed.ticket)])
    [bobs] = open_positions(bob_bridge, 1, prefix="b")
    api = bearer(alice)
    assert ids(api.get("/api/v1/positions/?status=open")) == [str(still_open.pk)]
    assert ids(api.get("/api/v1/positions/?status=closed")) == [str(closed.pk)]
    assert set(ids(api.get("/api/v1/positions/"))) == {str(still_open.pk), str(closed.pk)}
    assert api.get("/api/v1/positions/?status=gone").status_code == 422
    assert api.get(f"/api/v1/positions/{bobs.pk}/").status_code == 404
    assert set(ids(bearer(operator).get("/api/v1/positions/?status=open"))) == {str(still_open.pk), str(bobs.pk)}


def test_closing_a_position_queues_one_close_command_for_the_bridge(alice, bridge):
    [position] = open_positions(bridge, 1)
    response = bearer(alice).post(f"/api/v1/positions/{position.pk}/close/")
    assert response.status_code == 202, response.content
    command = Command.objects.get(position=position)
    assert response.json() == {
        "id": str(command.pk), "type": "close", "status": "queued", "client_order_id": None, "instrument": "EURUSD",
        "side": "buy", "volume": "0.10", "entry_price": None, "stop_loss": None, "take_profit": None,
        "expires_at": None, "position_ticket": position.ticket, "reason": "user",
        "created_at": rfc3339(command.created_at),
    }
    # Asked again before the bridge acted: the same command, not a second one.
    again = bearer(alice).post(f"/api/v1/positions/{position.pk}/close/")
    assert (again.status_code, again.json()["id"]) == (202, str(command.pk))
    assert Command.objects.filter(position=position).count() == 1


def test_closing_a_closed_position_is_409_and_anothers_is_404(alice, bob, bridge, bob_bridge):
    [position] = open_positions(bridge, 1)
    services.record_fills(bridge=bridge, fills=[fill("out", entry="out", side="sell",
                                                     position_ticket=position.ticket)])
    response = bearer(alice).post(f"/api/v1/positions/{position.pk}/close/")
    assert response.status_code == 409
    assert response.json()["type"].endswith("position-not-open")
    [bobs] = open_positions(bob_bridge, 1, prefix="b")
    assert bearer(alice).post(f"/api/v1/positions/{bobs.pk}/close/").status_code == 404
    assert not Command.objects.exists()


# --- the kill switch -----------------------------------------------------------------

@pytest.mark.parametrize("slash", ["", "/"])
def test_pause_denies_new_orders_until_resume(alice, bridge, specs, snapshot, place, slash):
    api = bearer(alice)
    paused = api.post(f"/api/v1/trading/pause{slash}")
    assert paused.status_code == 200, paused.content
    bridge.refresh_from_db()
    assert paused.json() == {"paused": True, "paused_at": rfc3339(bridge.paused_at)}
    assert api.post("/api/v1/trading/pause").json() == paused.json()  # pausing again changes nothing
    assert (place(alice).status, Order.objects.first().reasons) == ("denied", ["paused"])

    resumed = api.post(f"/api/v1/trading/resume{slash}")
    assert (resumed.status_code, resumed.json()) == (200, {"paused": False, "paused_at": None})
    assert place(alice).status == "pending"


def test_pause_without_a_bridge_is_404(bob):
    assert bearer(bob).post("/api/v1/trading/pause").status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/orders/"), ("get", "/api/v1/positions/"), ("post", "/api/v1/trading/pause"),
    ("post", "/api/v1/positions/00000000-0000-0000-0000-000000000000/close/"),
])
def test_every_user_call_needs_a_token(anon, method, path):
    response = getattr(anon, method)(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- how the lists are read -------------------------------------------------------------

def test_the_lists_read_in_a_constant_number_of_queries(alice, bridge, specs, snapshot, place, settings):
    settings.WORKER_CACHE_SECONDS = 0  # every request reads its user: the same count each time
    api = bearer(alice)

    def queries(path):
        with CaptureQueriesContext(connection) as captured:
            assert api.get(path).status_code == 200
        return len(captured)

    place(alice)
    open_positions(bridge, 1)
    one = queries("/api/v1/orders/"), queries("/api/v1/positions/")
    for _ in range(29):
        place(alice)
    open_positions(bridge, 29, prefix="q")
    assert len(api.get("/api/v1/orders/").json()["results"]) == 30
    assert len(api.get("/api/v1/positions/").json()["results"]) == 30
    assert (queries("/api/v1/orders/"), queries("/api/v1/positions/")) == one


@pytest.mark.parametrize(("serializer", "make"), [
    (OrderSerializer, lambda alice, bridge, place: place(alice)),
    (PositionSerializer, lambda alice, bridge, place: open_positions(bridge, 1)[0]),
    (CommandSerializer, lambda alice, bridge, place: Command.objects.get(order=place(alice))),
])
def test_the_published_fields_are_the_ones_written(alice, bridge, specs, snapshot, place, serializer, make):
    assert list(serializer(make(alice, bridge, place)).data) == list(serializer().fields)
