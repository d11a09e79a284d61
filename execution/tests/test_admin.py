"""The operators' console for execution: bridges added, rotated and disabled
through the audited services with the secret shown once; every record of
the trading loop listed, filtered and shown, and none of them editable."""

import logging
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from core.display import utc_time
from execution.models import AccountSnapshot, Bridge, Command, Fill, Order, Position, Symbol
from execution.tests.bridge_api import BridgeClient
from execution.tests.trading import trade
from machines.crypto import decrypt
from tests.console_secrets import as_a_browser, assert_shown_once_and_kept_nowhere

pytestmark = pytest.mark.django_db

ADMIN = "/admin/execution"
BRIDGES = f"{ADMIN}/bridge/"
# What money moved through: operators may only look.
RECORDS = [Symbol, Order, Command, Fill, Position, AccountSnapshot]


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def history(alice):
    return trade(alice)


def url(model, view="changelist", pk=None):
    path = f"{ADMIN}/{model._meta.model_name}/"
    return {"changelist": path, "add": f"{path}add/", "change": f"{path}{pk}/change/",
            "history": f"{path}{pk}/history/", "delete": f"{path}{pk}/delete/"}[view]


def link(row):
    return f"/execution/{row._meta.model_name}/{row.pk}/change/"


def newest_secret(bridge):
    return decrypt(bridge.secrets.order_by("-created_at").first().encrypted_secret)


def polls(bridge, secret):
    return BridgeClient(bridge, secret).post("poll", {}).status_code


# --- Bridges ----------------------------------------------------------------------


def test_add_bridge_shows_the_secret_once_in_the_page_alone(console, alice, caplog):
    caplog.set_level(logging.DEBUG)
    response = console.post(f"{BRIDGES}add/", {"name": "alice-mt5", "owner": alice.pk, "account_ref": "50123",
                                               "currency": "eur"})
    responses = as_a_browser(console, response)
    bridge = Bridge.objects.get(name="alice-mt5")
    secret = newest_secret(bridge)
    page = responses[-1].content.decode()
    assert responses[-1].status_code == 200 and bridge.key_id in page and "Bridge added" in page
    assert_shown_once_and_kept_nowhere(console, responses, secret, caplog, next_page=BRIDGES)
    assert (bridge.owner, bridge.account_ref, bridge.currency, bridge.enabled) == (alice, "50123", "EUR", True)
    assert polls(bridge, secret) == 200
    assert AuditEntry.objects.filter(action="bridge.create", target_id=str(bridge.pk)).exists()
    assert secret not in console.get(url(Bridge, "change", bridge.pk)).content.decode()


def test_add_bridge_refuses_a_second_enabled_bridge_and_a_bad_currency(console, alice, history):
    response = console.post(f"{BRIDGES}add/", {"name": "alice-two", "owner": alice.pk, "account_ref": "777",
                                               "currency": "E1"})
    page = response.content.decode()
    assert response.status_code == 200  # the form again, with its errors
    assert f"alice already has an enabled bridge, “desk-mt5” ({history.bridge.key_id})" in page
    assert "three upper-case letters" in page
    assert list(Bridge.objects.values_list("name", flat=True)) == ["desk-mt5"]


def test_rotate_action_shows_the_new_secret_once_in_the_page_alone(console, history, caplog):
    caplog.set_level(logging.DEBUG)
    bridge, secret = history.bridge, history.secret
    response = console.post(BRIDGES, {"action": "rotate_secret", "_selected_action": [bridge.pk]})
    responses = as_a_browser(console, response)
    new_secret = newest_secret(bridge)
    assert new_secret != secret and responses[-1].status_code == 200
    assert_shown_once_and_kept_nowhere(console, responses, new_secret, caplog, next_page=BRIDGES)
    assert polls(bridge, new_secret) == 200
    assert polls(bridge, secret) == 200  # grace period
    assert AuditEntry.objects.filter(action="bridge.rotate", target_id=str(bridge.pk)).exists()


def test_disable_action(console, history):
    bridge, secret = history.bridge, history.secret
    response = console.post(BRIDGES, {"action": "disable", "_selected_action": [bridge.pk]}, follow=True)
    assert "Bridge “desk-mt5” disabled." in response.content.decode()
    bridge.refresh_from_db()
    assert not bridge.enabled and bridge.disabled_at
    assert polls(bridge, secret) == 401
    assert AuditEntry.objects.filter(action="bridge.disable", target_id=str(bridge.pk)).exists()
    response = console.post(BRIDGES, {"action": "rotate_secret", "_selected_action": [bridge.pk]}, follow=True)
    assert "nothing rotated" in response.content.decode() and bridge.secrets.count() == 1


def test_a_bridge_cannot_be_edited_or_deleted(console, history, bob):
    bridge = history.bridge
    console.post(url(Bridge, "change", bridge.pk), {"name": "renamed", "owner": bob.pk, "account_ref": "1",
                                                    "currency": "JPY", "enabled": ""})
    bridge.refresh_from_db()
    assert (bridge.name, bridge.owner.username, bridge.account_ref, bridge.currency, bridge.enabled) == \
           ("desk-mt5", "alice", "50123", "USD", True)
    assert console.post(url(Bridge, "delete", bridge.pk), {"post": "yes"}).status_code == 403
    assert "delete_selected" not in console.get(BRIDGES).content.decode()


def test_the_bridge_list_shows_when_each_bridge_last_polled_and_reported(console, history, bob):
    Bridge.objects.filter(pk=history.bridge.pk).update(last_poll_at=timezone.now() - timedelta(seconds=125),
                                                       paused_at=timezone.now())
    history.bridge.refresh_from_db()
    silent = Bridge.objects.create(name="bob-mt5", owner=bob, key_id="brg_silent", account_ref="9")
    page = console.get(BRIDGES).content.decode()
    assert f"{utc_time(history.bridge.last_poll_at)} (2 min 0" in page  # "2 min 05 s ago", give or take a second
    assert f"{utc_time(history.bridge.last_snapshot_at)} (" in page and " s ago)" in page
    assert page.count("never") == 2  # the silent bridge: no poll, no snapshot
    assert "50123" in page and "alice" in page
    paused_only = console.get(f"{BRIDGES}?trading=paused").content.decode()
    assert "desk-mt5" in paused_only and silent.name not in paused_only
    detail = console.get(url(Bridge, "change", history.bridge.pk)).content.decode()
    assert f"?bridge__id__exact={history.bridge.pk}" in detail  # links to its symbols, orders, ...


# --- The records of the trading loop ------------------------------------------------


def test_every_execution_page_renders_with_times_in_utc(console, history):
    for model in [Bridge, *RECORDS]:
        rows = model.objects.all()
        assert rows.exists(), model
        assert console.get(url(model)).status_code == 200, model
        for row in rows:
            for view in ("change", "history"):
                page = console.get(url(model, view, row.pk))
                assert page.status_code == 200, (model, view)
                html = page.content.decode()
                assert not re.search(r"\d\d:\d\d:\d\d\.\d|\b[ap]\.m\.", html), (model, view)


def test_records_cannot_be_added_changed_or_deleted(console, history):
    for model in RECORDS:
        row = model.objects.first()
        listing = console.get(url(model)).content.decode()
        assert "delete_selected" not in listing and 'name="action"' not in listing, model
        assert 'name="_save"' not in console.get(url(model, "change", row.pk)).content.decode(), model
        assert console.get(url(model, "add")).status_code == 403, model
        assert console.post(url(model, "change", row.pk), {}).status_code == 403, model
        assert console.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403, model
        console.post(url(model), {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
        assert model.objects.filter(pk=row.pk).exists(), model


def test_what_an_operator_reads_about_an_order(console, history):
    order = history.order
    page = console.get(url(Order, "change", order.pk)).content.decode()
    assert f"<h2>buy {order.volume.normalize():f} EURUSD (filled)</h2>" in page
    assert order.client_order_id in page
    assert "1.08450" in page and "1.08100" in page and "1.09000" in page  # at the instrument's precision
    assert "1.08450000" not in page
    assert f"/admin/signals/signal/{order.signal_id}/change/" in page
    assert f"/admin/approvals/approval/{order.approval_id}/change/" in page
    assert utc_time(order.created_at) in page and utc_time(order.expires_at) in page
    # Its fills, one click away.
    fills = console.get(f"{url(Fill)}?order__id__exact={order.pk}").content.decode()
    assert link(Fill.objects.get(fill_id="d-1")) in fills and link(Fill.objects.get(fill_id="d-2")) not in fills


def test_the_position_page_shows_its_signals_chart(console, history, anon):
    page = console.get(url(Position, "change", history.closed.pk)).content.decode()
    src = re.search(r'<img src="([^"]+)" alt="Chart of this signal"', page)
    assert src and src.group(1).startswith(f"/charts/signals/{history.signal.pk}/?")
    image = anon.get(src.group(1).replace("&amp;", "&"))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert '<div class="readonly">13.60</div>' in page  # realized P&L: profit 15.00, commission -1.40
    external = console.get(url(Position, "change", history.external.pk)).content.decode()
    assert "Chart of this signal" not in external and "No candles" not in external


def test_lists_filter_by_status_bridge_instrument_and_origin(console, history, bob):
    other = trade(bob, name="bob-mt5", account_ref="60000")
    order, closed, external = history.order, history.closed, history.external
    close_command = Command.objects.get(bridge=history.bridge, type="close")
    for listing, shown, hidden in [
        (f"{url(Order)}?status=filled&bridge__id__exact={history.bridge.pk}", [link(order)], [link(other.order)]),
        (f"{url(Order)}?status=pending", [], [link(order), link(other.order)]),
        (f"{url(Order)}?q={order.signal_id}", [link(order)], [link(other.order)]),
        (f"{url(Order)}?q={other.order.client_order_id}", [link(other.order)], [link(order)]),
        (f"{url(Position)}?origin=external&bridge__id__exact={other.bridge.pk}", [link(other.external)],
         [link(external), link(other.closed), link(closed)]),
        (f"{url(Position)}?status=closed", [link(closed), link(other.closed)], [link(external)]),
        (f"{url(Position)}?q={closed.pk}", [link(closed)], [link(external), link(other.closed)]),
        (f"{url(Command)}?status=executed&type=close&bridge__id__exact={history.bridge.pk}", [link(close_command)],
         [link(Command.objects.get(bridge=other.bridge, type="close"))]),
        (f"{url(Fill)}?entry=out&bridge__id__exact={history.bridge.pk}",
         [link(Fill.objects.get(bridge=history.bridge, fill_id="d-3"))],
         [link(Fill.objects.get(bridge=history.bridge, fill_id="d-1"))]),
        (f"{url(Fill)}?instrument__id__exact={order.instrument_id}", [link(Fill.objects.first())], []),
        (f"{url(AccountSnapshot)}?q=60000", [link(AccountSnapshot.objects.filter(bridge=other.bridge).first())],
         [link(AccountSnapshot.objects.filter(bridge=history.bridge).first())]),
    ]:
        page = console.get(listing)
        html = page.content.decode()
        assert page.status_code == 200, listing
        for text in shown:
            assert text in html, (listing, text)
        for text in hidden:
            assert text not in html, (listing, text)


def test_an_unfilled_order_past_its_expiry_is_listed_as_expired(console, alice, make_signal, approve):
    trade(alice)
    order = approve(make_signal(alice, expires_in=60)).order
    assert order.status == Order.Status.PENDING
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert order.client_order_id in console.get(f"{url(Order)}?status=expired").content.decode()
    assert order.client_order_id not in console.get(f"{url(Order)}?status=pending").content.decode()


def changelist_queries(console, model):
    with CaptureQueriesContext(connection) as queries:
        assert console.get(url(model)).status_code == 200
    return len(queries)


def test_changelist_queries_do_not_grow_with_the_rows(console, history, make_user):
    models = [Bridge, *RECORDS]
    before = {model: changelist_queries(console, model) for model in models}
    for name in ("carol", "dave"):
        trade(make_user(name), name=f"{name}-mt5")
    assert all(model.objects.count() >= 3 for model in models)
    assert {model: changelist_queries(console, model) for model in models} == before


@pytest.fixture
def console_after_a_trade(superuser, alice):
    trade(alice)
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("path, parameter", [
    ("order", "status"),  # the effective status filter: the dashboard links here
    ("order", "side__exact"),
    ("bridge", "currency"),
    ("position", "status__exact"),
    ("fill", "entry__exact"),
    ("accountsnapshot", "currency"),
    ("reconciliationitem", "kind__exact"),
    ("accountstate", "mode__exact"),
])
def test_a_nul_character_in_a_filter_is_a_400_not_a_server_error(console_after_a_trade, path, parameter):
    """PostgreSQL refuses NUL in a text parameter when the query runs, after
    the admin's checks of the lookups: it was a 500 on every list with a text
    filter. The console refuses it first, on either database."""
    assert console_after_a_trade.get(f"/admin/execution/{path}/", {parameter: "\x00"}).status_code == 400
