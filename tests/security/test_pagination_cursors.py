"""Tampered pagination cursors. A cursor is the server's own base64 of
`o=<offset>&r=<reverse>&p=<position>`; a client that edits one, or sends one
the server never made, gets a 400 `invalid-cursor` problem on every
cursor-paginated list, and nothing is logged as a crash."""

import base64
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from drf_spectacular.generators import SchemaGenerator

from delivery import services as delivery_services
from execution import services as execution_services
from execution.models import Bridge
from machines import services as machine_services
from signals import services as signal_services
from tests.security.conftest import assert_problem, bearer

pytestmark = pytest.mark.django_db


def encoded(querystring: str | bytes) -> str:
    raw = querystring.encode() if isinstance(querystring, str) else querystring
    return base64.b64encode(raw).decode()


TAMPERED = {
    "not base64": "@@not-base64@@",
    "base64 of binary garbage": encoded(b"\xff\xfe\x00\x9cgarbage"),
    "base64 of non-ASCII text": encoded("p=café".encode()),
    "p=x": "cD14",
    "empty position": encoded("p="),
    "position with NUL": encoded("p=%00"),
    "position 1e400": encoded("p=1e400"),
    "huge position": encoded("p=" + "9" * 40),
    "5000-digit position": encoded("p=" + "9" * 5000),
    "position a year 99999": encoded("p=99999-01-01 00:00:00+00:00"),
    "position past the last datetime": encoded("p=9999-12-31 23:59:59.999999-14:00"),
    "position without a time zone": encoded("p=2026-01-01 00:00:00"),
    "position of 5000 chars": encoded("p=" + "x" * 5000),
    "o=-1": encoded("o=-1"),
    "o=x": encoded("o=x"),
    "5000-digit offset": encoded("o=" + "9" * 5000),
    "r=x": encoded("r=x"),
    "r=-": encoded("r=-"),
}


LISTS = ["/api/v1/signals/", "/api/v1/approvals/", "/api/v1/audit/", "/api/v1/orders/", "/api/v1/positions/",
         "/api/v1/reconciliation/", "/api/v1/producers/", "/api/v1/subscriptions/", "/api/v1/webhooks/",
         "/api/v1/webhooks/{id}/deliveries/", "/api/v1/analytics/daily/", "/api/v1/analytics/by-instrument/"]


@pytest.fixture
def alice_bridge(alice):
    """Her approvals become orders (denied: the bridge has sent no specs)."""
    return machine_services.create_client(model=Bridge, name="alice-mt5", owner=alice, account_ref="1")[0]


@pytest.fixture
def lists(alice, bob, operator, alice_bridge, alice_approval, alice_engine, bob_engine, consent_version):
    """Every cursor-paginated list (by its path, with an id filled in), each
    with more rows than one page of 1 (so its cursors carry a position) and
    a client allowed to read it."""
    for producer in (bob_engine.model, signal_services.create_producer(name="bob-engine-2", owner=bob)[0]):
        signal_services.update_producer(producer=producer, public=True)
        signal_services.subscribe(user=alice, producer=producer)
    endpoint = delivery_services.create_endpoint(owner=alice, url="http://127.0.0.1:9/a",
                                                 event_types=["signal.created", "approval.created"])[0]
    delivery_services.create_endpoint(owner=alice, url="http://127.0.0.1:9/b", event_types=["order.updated"])
    second = alice_engine.signal()
    assert second.status_code == 201
    assert bearer(alice).post("/api/v1/approvals/", {"signal": second.json()["id"], "decision": "approved",
                                                     "consent_version": consent_version},
                              format="json").status_code == 201
    now = datetime.now(UTC)
    # Positions of two instruments, closed (the analytics' rows: a day each, an instrument each).
    execution_services.record_fills(bridge=alice_bridge, fills=[
        {"fill_id": f"{ticket}-{entry}", "client_order_id": None, "ticket": None, "position_ticket": ticket,
         "instrument": instrument, "side": "buy" if entry == "in" else "sell", "entry": entry,
         "volume": Decimal("0.10"), "price": price, "time": now - timedelta(days=days, minutes=minutes),
         "commission": Decimal(0), "swap": Decimal(0), "profit": Decimal(0)}
        for ticket, instrument, price, days in (("1", "EURUSD", Decimal("1.08450"), 1),
                                                ("2", "XAUUSD", Decimal("2400.00"), 0))
        for entry, minutes in (("in", 10), ("out", 5))])
    for days in (1, 0):  # two reconciliation runs, on two days
        execution_services.record_account_snapshot(
            bridge=alice_bridge, time=now - timedelta(days=days), currency="USD",
            balance=Decimal(10000), equity=Decimal(10000), margin_free=Decimal(10000), positions=[])
    paths = [path.format(id=endpoint.pk) for path in LISTS]
    return dict(zip(paths, [bearer(alice), bearer(alice), bearer(operator), *[bearer(alice)] * 9], strict=True))


def test_these_are_every_cursor_paginated_list_and_the_schema_documents_the_400():
    operations = {(path, method): operation
                  for path, item in SchemaGenerator().get_schema(request=None, public=True)["paths"].items()
                  for method, operation in item.items()}
    paginated = {path for (path, method), operation in operations.items()
                 if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", []))}
    assert paginated == set(LISTS)
    assert all("400" in operations[path, "get"]["responses"] for path in LISTS)


@pytest.mark.parametrize("cursor", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_cursor_is_a_400_problem_and_logs_no_crash(lists, cursor, caplog):
    caplog.set_level(logging.DEBUG)
    for path, client in lists.items():
        response = client.get(f"{path}?page_size=1&cursor={quote(cursor)}")
        body = assert_problem(response, 400)
        assert body["type"].endswith("/invalid-cursor"), (path, body)
        assert body["detail"] == "The pagination cursor is invalid; start again from the first page."
    crashes = [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert crashes == []


def test_the_servers_own_cursors_still_walk_every_list(lists):
    for path, client in lists.items():
        url, seen = f"{path}?page_size=1", []
        while url:
            page = client.get(url)
            assert page.status_code == 200, (path, page.content)
            # A row's identity: its id, or a producer's name, an analytics day's date, an instrument's symbol.
            seen += [next(row[key] for key in ("id", "name", "date", "instrument") if key in row)
                     for row in page.json()["results"]]
            previous, url = page.json()["previous"], page.json()["next"]
        assert len(seen) == len(set(seen)) >= 2, path
        assert client.get(previous).status_code == 200  # a reversed cursor too


@pytest.mark.parametrize("cursor", [encoded("o=" + "9" * 30), encoded(""), ""])
def test_odd_cursors_the_server_could_have_made_are_read(lists, cursor):
    """An offset past the cap is capped, as DRF does; an empty cursor is the first page."""
    for path, client in lists.items():
        assert client.get(f"{path}?page_size=1&cursor={quote(cursor)}").status_code == 200, path


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["1_0", "\u0665", "\uff15", " 5", "+5", "5.0"])
def test_page_size_is_plain_ascii_digits_only(alice, page_size):
    """int() reads "1_0" as 10 and other scripts' digits as numbers; the
    page size, like every number of the API, is plain ASCII digits or a 422."""
    response = bearer(alice).get("/api/v1/signals/", {"page_size": page_size})
    assert response.status_code == 422
    assert "page_size" in response.json()["errors"]
