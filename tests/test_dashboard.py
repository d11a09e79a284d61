"""The operators' dashboard on the console's index page: each figure counts
what it says, and links to a console list that shows exactly the rows it
counted; times are UTC and say so; a figure that cannot be read says
unavailable, not 0; the page costs the same number of queries however many
rows there are."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from audit import chain_status
from audit.models import AuditEntry
from audit.tests.conftest import triggers_lifted  # noqa: F401 (a fixture)
from execution import selectors as execution_selectors
from execution.models import ReconciliationItem
from tests.dashboard_data import EXPECTED, NOW, populate

pytestmark = pytest.mark.django_db

# The session, the user, the admin log's recent actions, seven figures' reads
# and the audit chain's new entries (11), and inside a test's transaction a
# savepoint around each figure (14): however many rows there are.
MAX_QUERIES = 25


@pytest.fixture
def console(superuser, time_machine):
    time_machine.move_to(NOW, tick=False)
    client = Client()
    client.force_login(superuser)
    return client


def figures(response) -> dict:
    assert response.status_code == 200
    return {figure.key: figure for section in response.context["dashboard"].sections for figure in section.figures}


def listed(client, url) -> int:
    """How many rows the console list at `url` shows (all pages). A filter
    the list does not know would redirect to `?e=1` instead."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


def test_every_figure_counts_its_rows_and_links_to_exactly_them(console, time_machine):
    populate(time_machine=time_machine)
    shown = figures(console.get("/admin/"))

    assert {key: shown[key].value for key in EXPECTED} == EXPECTED
    assert shown["decisions-today"].note == "2 approved, 1 rejected"
    for key, count in EXPECTED.items():
        assert listed(console, shown[key].url) == count, key

    today = {"created_at__gte": ["2027-01-12 00:00:00+00:00"], "created_at__lt": ["2027-01-13 00:00:00+00:00"]}
    expected_links = {
        "pending-signals": ("/admin/signals/signal/", {"status": ["pending"]}),
        "decisions-today": ("/admin/approvals/approval/", today),
        "orders-today": ("/admin/execution/order/", today),
        "orders-denied-today": ("/admin/execution/order/", {"status": ["denied"], **today}),
        "accounts-active": ("/admin/execution/bridge/", {"account": ["active"]}),
        "accounts-reducing": ("/admin/execution/bridge/", {"account": ["reducing"]}),
        "accounts-halted": ("/admin/execution/bridge/", {"account": ["halted"]}),
        "accounts-stale": ("/admin/execution/bridge/", {"account": ["stale"]}),
        "silent-bridges": ("/admin/execution/bridge/", {"contact": ["silent"]}),
        "open-drift-items": ("/admin/execution/reconciliationitem/", {"drift": ["open"]}),
        "refused-ingests": ("/admin/audit/auditentry/", {"action": ["signal.ingest_denied"], "within": ["1h"]}),
    }
    for key, (path, query) in expected_links.items():
        link = urlsplit(shown[key].url)
        assert (link.path, parse_qs(link.query)) == (path, query), key


def test_the_date_filters_show_today_selected_and_the_list_filters_their_choice(console, time_machine):
    populate(time_machine=time_machine)
    shown = figures(console.get("/admin/"))
    decisions = console.get(shown["decisions-today"].url)
    chosen = [choice["display"] for spec in decisions.context["cl"].filter_specs for choice in spec.choices(
        decisions.context["cl"]) if choice["selected"] and choice["display"] not in ("All", "Any date")]
    assert chosen == ["Today"]
    halted = console.get(shown["accounts-halted"].url)
    assert sorted(bridge.name for bridge in halted.context["cl"].result_list) == ["d-a", "g-a"]


def test_the_audit_chain_verifies_and_shows_its_head(console, time_machine):
    populate(time_machine=time_machine)
    response = console.get("/admin/")
    chain = figures(response)["audit-chain"]
    head = AuditEntry.objects.order_by("-seq").first()
    assert chain.value == "verifies"
    assert f"head #{head.seq} {head.hash}" in chain.note and "checked 2027-01-12 09:30:00 UTC" in chain.note
    assert console.get(chain.url).context["cl"].result_list[0] == head


def test_a_chain_the_looks_have_not_caught_up_with_links_to_its_unverified_entries(console, time_machine,
                                                                                    monkeypatch):
    populate(time_machine=time_machine)
    monkeypatch.setattr(chain_status, "LOOK_LIMIT", 2)
    chain = figures(console.get("/admin/"))["audit-chain"]
    head = AuditEntry.objects.order_by("-seq").first().seq
    assert chain.value == "not verified past #2"
    assert f"not verified since 2027-01-12 09:30:00 UTC: {head - 2} newer entries" in chain.note
    assert listed(console, chain.url) == head - 2


def test_a_broken_chain_links_to_the_broken_entry(console, time_machine, triggers_lifted):
    populate(time_machine=time_machine)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET actor = %s WHERE seq = 3", ["mallory"])
    chain = figures(console.get("/admin/"))["audit-chain"]
    assert chain.value == "broken at #3"
    assert "does not match its hash" in chain.note
    assert [entry.seq for entry in console.get(chain.url).context["cl"].result_list] == [3]


def test_times_name_their_zone(console, time_machine):
    populate(time_machine=time_machine)
    page = console.get("/admin/").content.decode()
    assert "At a glance, as of <time>2027-01-12 09:30:00 UTC</time>" in page
    assert "Trading today (since 2027-01-12 00:00:00 UTC)" in page
    assert "since 2027-01-12 08:30:00 UTC" in page  # the refusals' hour


def test_a_figure_that_cannot_be_read_is_unavailable_not_zero(console, time_machine, monkeypatch):
    populate(time_machine=time_machine)

    def broken_query():
        # A real query error, from the database: the column does not exist.
        return ReconciliationItem.objects.extra(where=["no_such_column = 1"])

    monkeypatch.setattr(execution_selectors, "open_drift_items", broken_query)
    response = console.get("/admin/")
    shown = figures(response)
    assert shown["open-drift-items"].value is None
    assert {key: shown[key].value for key in EXPECTED if key != "open-drift-items"} == {
        key: value for key, value in EXPECTED.items() if key != "open-drift-items"}
    row = response.content.decode().split('data-figure="open-drift-items"')[1].split("</tr>")[0]
    assert "unavailable" in row and ">0<" not in row


def test_the_page_costs_the_same_queries_however_many_rows(console, time_machine, django_assert_max_num_queries):
    populate("a", time_machine=time_machine)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert figures(console.get("/admin/"))["pending-signals"].value == 2
    for tag in ("b", "c", "d"):
        populate(tag, time_machine=time_machine)
    with django_assert_max_num_queries(MAX_QUERIES):
        shown = figures(console.get("/admin/"))
    assert {key: shown[key].value for key in EXPECTED} == {key: value * 4 for key, value in EXPECTED.items()}


def test_an_operator_sees_the_figures_of_the_lists_they_may_view(make_user, time_machine):
    time_machine.move_to(NOW, tick=False)
    populate(time_machine=time_machine)
    reviewer = make_user("reviewer", is_staff=True)
    reviewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_signal", "view_approval"]))
    client = Client()
    client.force_login(reviewer)
    shown = figures(client.get("/admin/"))
    assert {key: figure.value for key, figure in shown.items()} == {"pending-signals": 2, "decisions-today": 3}
