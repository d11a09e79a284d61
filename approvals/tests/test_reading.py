"""Reading approvals back, and the approvals CSV."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import Approval

pytestmark = pytest.mark.django_db

URL = "/api/v1/approvals/"


@pytest.fixture
def approve(make_signal):
    """A stored decision of `user`, `ago` seconds old."""

    def make(user, decision="approved", *, ago=0, reason="", **signal_fields):
        signal = make_signal(user, created_ago=ago + 5, **signal_fields)
        signal.status = decision
        signal.save(update_fields=["status"])
        return Approval.objects.create(signal=signal, user=user, decision=decision, consent_version="1",
                                       reason=reason, ip="198.51.100.1", user_agent="TraderApp/1",
                                       created_at=timezone.now() - timedelta(seconds=ago))

    return make


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_a_user_lists_their_own_approvals_newest_first(alice, bob, client_for, approve):
    old, new = approve(alice, ago=60), approve(alice, "rejected", ago=1)
    approve(bob)
    response = client_for(alice).get(URL)
    assert response.status_code == 200
    assert ids(response) == [str(new.pk), str(old.pk)]
    assert set(response.json()) == {"next", "previous", "results"}
    assert set(response.json()["results"][0]) == {"id", "signal", "decision", "consent_version", "reason", "ip",
                                                  "user_agent", "created_at"}


def test_staff_list_everyones_approvals(alice, bob, operator, client_for, approve):
    approve(alice)
    approve(bob)
    assert len(ids(client_for(operator).get(URL))) == 2


def test_detail_is_own_or_staff_and_another_users_is_404(alice, bob, operator, client_for, approve):
    mine = approve(alice)
    url = f"{URL}{mine.pk}/"
    assert client_for(alice).get(url).json()["id"] == str(mine.pk)
    assert client_for(operator).get(url).status_code == 200
    other = client_for(bob).get(url)
    assert other.status_code == 404
    assert other["Content-Type"] == "application/problem+json"
    assert client_for(alice).get(f"{URL}{uuid.uuid4()}/").status_code == 404
    assert client_for(alice).get(f"{URL}not-a-uuid/").status_code == 404


def test_reading_needs_a_token(alice, approve):
    mine = approve(alice)
    for url in (URL, f"{URL}{mine.pk}/", f"{URL}export.csv"):
        assert APIClient().get(url).status_code == 401


def test_filters_decision_and_created_window(alice, client_for, approve):
    old = approve(alice, "approved", ago=3600)
    mid = approve(alice, "rejected", ago=1800)
    new = approve(alice, "approved", ago=10)
    client = client_for(alice)
    assert ids(client.get(URL, {"decision": "approved"})) == [str(new.pk), str(old.pk)]
    assert ids(client.get(URL, {"decision": "rejected"})) == [str(mid.pk)]
    after = (mid.created_at).isoformat()
    before = (new.created_at).isoformat()
    assert ids(client.get(URL, {"created_after": after})) == [str(new.pk), str(mid.pk)]  # inclusive
    assert ids(client.get(URL, {"created_before": before})) == [str(mid.pk), str(old.pk)]  # exclusive
    assert ids(client.get(URL, {"created_after": after, "created_before": before, "decision": "rejected"})) == [
        str(mid.pk)]
    # Any UTC offset Python reads, even beyond PostgreSQL's ±15:59, means the same instant.
    far_east = mid.created_at.astimezone(timezone.get_fixed_timezone(23 * 60 + 59)).isoformat()
    assert ids(client.get(URL, {"created_after": far_east})) == [str(new.pk), str(mid.pk)]


@pytest.mark.parametrize("query", [{"decision": "maybe"}, {"created_after": "yesterday"},
                                   {"created_before": "9999-12-31T23:59:59-01:00"}])
def test_a_bad_filter_is_422(alice, client_for, query):
    response = client_for(alice).get(URL, query)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == set(query)


def test_cursor_pagination_walks_every_row_once_while_rows_arrive(alice, client_for, approve):
    made = [approve(alice, ago=100 - i) for i in range(5)]
    client = client_for(alice)
    first = client.get(URL, {"page_size": 2}).json()
    approve(alice)  # a new decision lands between two page loads
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    seen = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert seen == [str(a.pk) for a in reversed(made)]
    assert third["next"] is None


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_3_or_30_rows(alice, operator, client_for, approve, settings):
    settings.WORKER_CACHE_SECONDS = 0  # every request reads its user: the same count each time
    for i in range(3):
        approve(alice, ago=i)
    few = count_queries(client_for(alice), URL), count_queries(client_for(operator), URL)
    for i in range(27):
        approve(alice, ago=100 + i)
    assert (count_queries(client_for(alice), URL), count_queries(client_for(operator), URL)) == few


# --- §7: the CSV ----------------------------------------------------------------

def read_csv(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="approvals-')
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_is_the_callers_rows_with_a_header(alice, bob, client_for, approve):
    mine = approve(alice, "rejected", reason="too risky", symbol="XAUUSD", side="sell")
    approve(bob)
    rows = read_csv(client_for(alice).get(f"{URL}export.csv"))
    assert rows == [{
        "id": str(mine.pk), "signal": str(mine.signal_id), "user": "alice", "instrument": "XAUUSD", "side": "sell",
        "decision": "rejected", "consent_version": "1", "reason": "too risky", "ip": "198.51.100.1",
        "user_agent": "TraderApp/1", "created_at": client_for(alice).get(f"{URL}{mine.pk}/").json()["created_at"],
    }]


def test_export_applies_the_list_filters_and_staff_get_all(alice, bob, operator, client_for, approve):
    approve(alice, "approved")
    approve(bob, "rejected")
    approve(bob, "approved")
    client = client_for(operator)
    assert len(read_csv(client.get(f"{URL}export.csv"))) == 3
    assert {row["user"] for row in read_csv(client.get(f"{URL}export.csv", {"decision": "approved"}))} == {
        "alice", "bob"}
    assert client.get(f"{URL}export.csv", {"decision": "maybe"}).status_code == 422


def test_export_answers_an_accept_text_csv(alice, client_for, approve):
    approve(alice)
    assert len(read_csv(client_for(alice).get(f"{URL}export.csv", HTTP_ACCEPT="text/csv"))) == 1


def test_export_defuses_spreadsheet_formulas_in_user_text(alice, client_for, approve):
    approve(alice, reason='=HYPERLINK("http://evil.example","click")')
    row = read_csv(client_for(alice).get(f"{URL}export.csv"))[0]
    assert row["reason"] == '\'=HYPERLINK("http://evil.example","click")'
