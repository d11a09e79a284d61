"""The operators' console (Django admin): reviewing decisions, never rewriting them."""

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.models import Approval
from signals.models import Signal

pytestmark = pytest.mark.django_db

LIST = reverse("admin:approvals_approval_changelist")
PENDING = reverse("admin:approvals_pendingsignal_changelist")


@pytest.fixture
def decided(alice, bob, make_signal):
    """Three decisions: alice approved EURUSD buy, bob rejected XAUUSD sell, bob approved USDJPY buy."""

    def make(user, decision, symbol, side, consent="1", ip="198.51.100.7"):
        signal = make_signal(user, symbol=symbol, side=side, created_ago=30, stop_loss=None,
                             payload={"strategy": "breakout-7"})
        signal.status = decision
        signal.save(update_fields=["status"])
        return Approval.objects.create(signal=signal, user=user, decision=decision, consent_version=consent,
                                       ip=ip, user_agent="TraderApp/2")

    return [make(alice, "approved", "EURUSD", "buy"), make(bob, "rejected", "XAUUSD", "sell", consent="2"),
            make(bob, "approved", "USDJPY", "buy", ip="2001:db8::5")]


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


def listed(response):
    """The approval ids on a changelist page, in order."""
    return [str(a) for a in response.context["cl"].result_list.values_list("pk", flat=True)]


def test_the_console_is_for_staff_only(client, alice, decided):
    assert client.get(LIST).status_code == 302  # to the login page
    client.force_login(alice)
    response = client.get(LIST)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_shows_who_decided_what_on_which_signal(console, decided):
    response = console.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("alice", "bob", "EURUSD", "XAUUSD", "sell", "rejected", "198.51.100.7", "2001:db8::5"):
        assert text in page
    for column in ("Decided", "Decision", "User", "Instrument", "Side", "Consent version", "Ip"):
        assert f">{column}<" in page or f">{column}</a>" in page
    assert listed(response) == [str(a.pk) for a in sorted(decided, key=lambda a: (a.created_at, a.pk),
                                                          reverse=True)]


def test_filters_by_decision_date_and_consent_version(console, decided):
    alice_approved, bob_rejected, bob_approved = decided
    assert set(listed(console.get(LIST, {"decision__exact": "approved"}))) == {str(alice_approved.pk),
                                                                              str(bob_approved.pk)}
    assert listed(console.get(LIST, {"consent_version": "2"})) == [str(bob_rejected.pk)]
    # The date filter's own "Today" link.
    today = datetime.combine(decided[0].created_at.date(), time(), tzinfo=UTC)
    assert len(listed(console.get(LIST, {"created_at__gte": str(today),
                                         "created_at__lt": str(today + timedelta(days=1))}))) == 3
    assert listed(console.get(LIST, {"created_at__lt": str(today)})) == []


@pytest.mark.parametrize("term,who", [("bob", {1, 2}), ("xauusd", {1}), ("USDJPY", {2})])
def test_search_by_username_and_instrument(console, decided, term, who):
    assert set(listed(console.get(LIST, {"q": term}))) == {str(decided[i].pk) for i in who}


def test_search_by_signal_id(console, decided):
    target = decided[1]
    assert listed(console.get(LIST, {"q": str(target.signal_id)})) == [str(target.pk)]
    assert listed(console.get(LIST, {"q": f" {str(target.signal_id).upper()} "})) == [str(target.pk)]


def test_the_approval_page_shows_the_signal(console, decided):
    approval = decided[1]
    response = console.get(reverse("admin:approvals_approval_change", args=[approval.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for text in (str(approval.signal_id), "XAUUSD", "sell", "1.0845", "engine-bob", "breakout-7", "TraderApp/2",
                 "rejected", "Time to decide"):
        assert text in page
    assert 'name="decision"' not in page and 'name="reason"' not in page  # shown, not editable


def test_decisions_are_read_only_even_for_superusers(console, decided):
    approval = decided[0]
    change = reverse("admin:approvals_approval_change", args=[approval.pk])
    assert console.get(reverse("admin:approvals_approval_add")).status_code == 403
    assert console.post(change, {"decision": "rejected", "reason": "operator override"}).status_code == 403
    assert console.post(reverse("admin:approvals_approval_delete", args=[approval.pk]),
                        {"post": "yes"}).status_code == 403
    assert console.post(LIST, {"action": "delete_selected", "_selected_action": [approval.pk],
                               "post": "yes"}).status_code in (200, 302)
    approval.refresh_from_db()
    assert (approval.decision, approval.reason) == ("approved", "")
    assert Approval.objects.count() == 3


def export(client, approvals):
    response = client.post(LIST, {"action": "export_csv", "_selected_action": [a.pk for a in approvals]})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_action_writes_the_selected_rows(console, decided):
    rows = export(console, decided[1:])
    assert [(r["user"], r["instrument"], r["side"], r["decision"], r["consent_version"]) for r in rows] == [
        ("bob", "USDJPY", "buy", "approved", "1"), ("bob", "XAUUSD", "sell", "rejected", "2")]


def test_an_operator_with_view_permission_reviews_and_exports(client, make_user, decided):
    operator = make_user("ops", is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="view_approval"))
    client.force_login(operator)
    assert len(listed(client.get(LIST))) == 3
    assert len(export(client, decided)) == 3


def test_pending_signals_are_listed_soonest_expiry_first(console, alice, bob, make_signal, decided):
    later = make_signal(alice, expires_in=600)
    sooner = make_signal(bob, expires_in=60)
    make_signal(alice, expires_in=-5, created_ago=900)  # already expired, not stored as such yet
    make_signal(alice, expires_in=-5, created_ago=900, status=Signal.Status.EXPIRED)
    response = console.get(PENDING)
    assert response.status_code == 200
    assert [s.pk for s in response.context["cl"].result_list] == [sooner.pk, later.pk]
    assert console.get(reverse("admin:approvals_pendingsignal_change", args=[sooner.pk])).status_code == 200
    assert console.post(reverse("admin:approvals_pendingsignal_delete", args=[sooner.pk]),
                        {"post": "yes"}).status_code == 403


def test_the_list_costs_the_same_queries_for_3_or_13_decisions(console, alice, make_signal, decided):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert console.get(LIST).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(10):
        signal = make_signal(alice)
        Approval.objects.create(signal=signal, user=alice, decision="approved", consent_version="1")
    assert queries() == few


def utc(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d")


@pytest.mark.parametrize("after,reads", [(timedelta(seconds=34.286616), "34 s"),
                                         (timedelta(minutes=12, seconds=5, microseconds=900), "12 min 05 s"),
                                         (timedelta(hours=2, minutes=3, seconds=59), "2 h 03 min")])
def test_what_an_operator_reads_about_a_decision(console, alice, make_signal, after, reads):
    signal = make_signal(alice, symbol="XAUUSD", side="sell", created_ago=3 * 3600,
                         payload={"note": "<script>alert(1)</script>", "desk": "Zürich"})
    approval = Approval.objects.create(signal=signal, user=alice, decision="approved", consent_version="1",
                                       created_at=signal.created_at + after)
    page = console.get(reverse("admin:approvals_approval_change", args=[approval.pk])).content.decode()
    listing = console.get(LIST).content.decode()
    title = f"approved: sell XAUUSD v{signal.version} by alice, {utc(approval.created_at)}"
    assert f"<title>{title} | View approval" in page and f"<h2>{title}</h2>" in page
    assert f'<div class="readonly">{reads}</div>' in page  # time to decide
    for moment in (approval.created_at, signal.time, signal.created_at, signal.expires_at):
        assert utc(moment) in page
    assert utc(approval.created_at) in listing
    for html in (page, listing):
        assert not MICROSECONDS.search(html) and "a.m." not in html and "p.m." not in html
    # The strategy's payload as indented JSON, escaped: it is text a strategy sent.
    assert '<pre>{\n  &quot;desk&quot;: &quot;Zürich&quot;,\n  &quot;note&quot;: ' \
           '&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\n}</pre>' in page
    assert "<script>alert(1)" not in page


def test_the_pending_queue_counts_down_humanely(console, alice, make_signal):
    signal = make_signal(alice, expires_in=2 * 3600 + 3 * 60 + 30, payload={"note": "<b>hi</b>"})
    listing = console.get(PENDING).content.decode()
    assert ">2 h 03 min<" in listing and utc(signal.expires_at) in listing
    page = console.get(reverse("admin:approvals_pendingsignal_change", args=[signal.pk])).content.decode()
    assert "<pre>{\n  &quot;note&quot;: &quot;&lt;b&gt;hi&lt;/b&gt;&quot;\n}</pre>" in page
    for html in (page, listing):
        assert not MICROSECONDS.search(html) and "a.m." not in html and "p.m." not in html
