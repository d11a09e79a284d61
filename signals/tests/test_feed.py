"""Reading signals, their lifecycle, and the signals CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEntry
from signals import services
from signals.models import Instrument, Signal

pytestmark = pytest.mark.django_db


def make_signal(producer, *, instrument="EURUSD", side="buy", version=1, status=Signal.Status.PENDING,
                expires_in=3600, created_at=None):
    now = timezone.now()
    signal, _ = services.ingest_signal(producer=producer, instrument=Instrument.objects.get(symbol=instrument),
                                       side=side, time=now - timedelta(seconds=1000 + version), version=version,
                                       entry_price=1, expires_at=now + timedelta(seconds=expires_in))
    updates = {"status": status} if status != Signal.Status.PENDING else {}
    if created_at:
        updates["created_at"] = created_at
    if updates:
        Signal.objects.filter(pk=signal.pk).update(**updates)
        signal.refresh_from_db()
    return signal


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("mallory", "m@example.com", "mallory-pass-1234")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("ops", "ops@example.com", "ops-pass-1234", is_staff=True)


@pytest.fixture
def other_producer(other_user):
    return services.create_producer(name="mallory-engine", owner=other_user)[0]


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_and_detail_need_a_token(producer):
    signal = make_signal(producer)
    anonymous = APIClient()
    for url in ("/api/v1/signals/", f"/api/v1/signals/{signal.pk}/", "/api/v1/signals/export.csv"):
        response = anonymous.get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_jwt_bearer_token_reads_the_feed(producer, trader):
    signal = make_signal(producer)
    tokens = APIClient().post("/api/v1/auth/token/", {"username": "trader", "password": "trader-pass-1234"},
                              format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert ids(client.get("/api/v1/signals/")) == {str(signal.pk)}


def test_signed_producer_cannot_read_the_feed(producer, secret):
    from signals.tests.conftest import signed_headers

    make_signal(producer)
    response = APIClient().get("/api/v1/signals/", **signed_headers(producer.key_id, secret, b""))
    assert response.status_code == 401


def test_user_sees_own_feed_staff_sees_all(producer, other_producer, trader, other_user, staff):
    mine, theirs = make_signal(producer), make_signal(other_producer)
    assert ids(client_for(trader).get("/api/v1/signals/")) == {str(mine.pk)}
    assert ids(client_for(other_user).get("/api/v1/signals/")) == {str(theirs.pk)}
    assert ids(client_for(staff).get("/api/v1/signals/")) == {str(mine.pk), str(theirs.pk)}


def test_detail_of_another_users_signal_is_404(producer, other_producer, trader, staff):
    mine, theirs = make_signal(producer), make_signal(other_producer)
    client = client_for(trader)
    assert client.get(f"/api/v1/signals/{mine.pk}/").json()["id"] == str(mine.pk)
    response = client.get(f"/api/v1/signals/{theirs.pk}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/signals/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client_for(staff).get(f"/api/v1/signals/{theirs.pk}/").status_code == 200


def test_filters(producer, trader):
    now = timezone.now()
    old = make_signal(producer, version=1, created_at=now - timedelta(days=2))
    gold = make_signal(producer, version=2, instrument="XAUUSD", side="sell", status=Signal.Status.APPROVED)
    rejected = make_signal(producer, version=3, status=Signal.Status.REJECTED)
    client = client_for(trader)
    assert ids(client.get("/api/v1/signals/?instrument=xauusd")) == {str(gold.pk)}
    assert ids(client.get("/api/v1/signals/?side=sell")) == {str(gold.pk)}
    assert ids(client.get("/api/v1/signals/?status=approved")) == {str(gold.pk)}
    assert ids(client.get("/api/v1/signals/?status=rejected")) == {str(rejected.pk)}
    after = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(client.get("/api/v1/signals/", {"created_after": after})) == {str(gold.pk), str(rejected.pk)}
    assert ids(client.get("/api/v1/signals/", {"created_before": after})) == {str(old.pk)}


@pytest.mark.parametrize("query", ["status=done", "side=hold", "created_after=yesterday"])
def test_bad_filter_value_is_422(producer, trader, query):
    response = client_for(trader).get(f"/api/v1/signals/?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.json()["errors"]


def test_pending_signal_past_expiry_reads_expired_at_once(producer, trader):
    live = make_signal(producer, version=1)
    lapsed = make_signal(producer, version=2, expires_in=-1)
    client = client_for(trader)
    assert client.get(f"/api/v1/signals/{lapsed.pk}/").json()["status"] == "expired"
    assert client.get(f"/api/v1/signals/{live.pk}/").json()["status"] == "pending"
    assert ids(client.get("/api/v1/signals/?status=pending")) == {str(live.pk)}
    assert ids(client.get("/api/v1/signals/?status=expired")) == {str(lapsed.pk)}
    assert Signal.objects.get(pk=lapsed.pk).status == Signal.Status.PENDING  # nothing stored yet


def test_decided_signal_past_expiry_keeps_its_decision(producer, trader):
    approved = make_signal(producer, expires_in=-1, status=Signal.Status.APPROVED)
    assert client_for(trader).get(f"/api/v1/signals/{approved.pk}/").json()["status"] == "approved"


def test_expire_signals_stores_and_audits_each(producer):
    live = make_signal(producer, version=1)
    lapsed = [make_signal(producer, version=v, expires_in=-1) for v in (2, 3)]
    decided = make_signal(producer, version=4, expires_in=-1, status=Signal.Status.REJECTED)
    out = io.StringIO()
    call_command("expire_signals", stdout=out)
    assert "Expired 2 signal(s)." in out.getvalue()
    assert {s.pk for s in Signal.objects.filter(status="expired")} == {s.pk for s in lapsed}
    assert Signal.objects.get(pk=live.pk).status == "pending"
    assert Signal.objects.get(pk=decided.pk).status == "rejected"
    entries = AuditEntry.objects.filter(action="signal.expire")
    assert {e.target_id for e in entries} == {str(s.pk) for s in lapsed}
    assert {e.actor for e in entries} == {"manage.py expire_signals"}
    call_command("expire_signals", stdout=io.StringIO())
    assert AuditEntry.objects.filter(action="signal.expire").count() == 2


def test_expire_signals_works_in_batches(producer):
    for version in range(1, 6):
        make_signal(producer, version=version, expires_in=-1)
    assert services.expire_signals(batch_size=2) == 5
    assert not Signal.objects.filter(status="pending").exists()


def test_cursor_pagination_newest_first(producer, trader):
    signals = [make_signal(producer, version=v) for v in range(1, 6)]
    client = client_for(trader)
    page = client.get("/api/v1/signals/?page_size=2").json()
    seen = [row["id"] for row in page["results"]]
    assert page["previous"] is None
    make_signal(producer, version=99)  # a new signal does not shift the pages already served
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert seen == [str(s.pk) for s in reversed(signals)]


def test_page_size_is_capped_at_200(producer, trader):
    for version in range(1, 203):
        make_signal(producer, version=version)
    page = client_for(trader).get("/api/v1/signals/?page_size=500").json()
    assert len(page["results"]) == 200 and page["next"]


def test_a_page_costs_a_constant_number_of_queries(producer, other_producer, staff):
    client = client_for(staff)

    def page_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/v1/signals/?page_size=200")
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["results"])

    make_signal(producer, version=1)
    small = page_queries()
    for version in range(2, 201):
        make_signal(producer if version % 2 else other_producer, version=version,
                    instrument="XAUUSD" if version % 3 else "EURUSD")
    large = page_queries()
    assert (small[1], large[1]) == (1, 200)
    assert large[0] == small[0]


def parse_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_csv_own_rows_with_filters(producer, other_producer, trader, staff):
    eur = make_signal(producer, version=1)
    gold = make_signal(producer, version=2, instrument="XAUUSD", side="sell")
    theirs = make_signal(other_producer)
    rows = parse_csv(client_for(trader).get("/api/v1/signals/export.csv"))
    assert [r["id"] for r in rows] == [str(gold.pk), str(eur.pk)]
    assert rows[1]["instrument"] == "EURUSD" and rows[1]["entry_price"] == "1.00000"
    assert rows[1]["producer"] == "alpha-engine" and rows[1]["owner"] == "trader"
    assert [r["id"] for r in parse_csv(client_for(trader).get("/api/v1/signals/export.csv?side=sell"))] == \
        [str(gold.pk)]
    assert {r["id"] for r in parse_csv(client_for(staff).get("/api/v1/signals/export.csv"))} == \
        {str(eur.pk), str(gold.pk), str(theirs.pk)}


def test_export_csv_header_only_when_empty_and_422_on_bad_filter(trader):
    response = client_for(trader).get("/api/v1/signals/export.csv")
    assert b"".join(response.streaming_content).decode().splitlines() == [
        "id,instrument,side,time,version,entry_price,stop_loss,take_profit,status,expires_at,created_at,"
        "producer,owner,payload"]
    assert client_for(trader).get("/api/v1/signals/export.csv?status=nope").status_code == 422


def test_export_neutralises_spreadsheet_formulas(producer, trader):
    signal = make_signal(producer)
    Signal.objects.filter(pk=signal.pk).update(payload={})
    producer.name = "=HYPERLINK(1)"
    producer.save()
    rows = parse_csv(client_for(trader).get("/api/v1/signals/export.csv"))
    assert rows[0]["producer"] == "'=HYPERLINK(1)"


def test_polling_an_unchanged_feed_gets_304_and_a_change_gets_the_new_page(producer, trader):
    make_signal(producer)
    client = client_for(trader)
    first = client.get("/api/v1/signals/")
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"')  # strong

    unchanged = client.get("/api/v1/signals/", HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged.content == b""

    newer = make_signal(producer, version=2)
    changed = client.get("/api/v1/signals/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert str(newer.pk) in ids(changed)

    Signal.objects.filter(pk=newer.pk).update(status=Signal.Status.REJECTED)  # a decision changes the page too
    assert client.get("/api/v1/signals/", HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 200


def test_another_users_etag_reveals_nothing(producer, other_producer, trader, other_user):
    make_signal(producer)
    make_signal(other_producer)
    theirs = client_for(other_user).get("/api/v1/signals/")["ETag"]
    assert client_for(trader).get("/api/v1/signals/", HTTP_IF_NONE_MATCH=theirs).status_code == 200
