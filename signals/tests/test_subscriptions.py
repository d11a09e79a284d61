"""Public producers and subscriptions (docs/api.md#subscriptions): one signed
signal reaches every active subscriber's feed, each copy a signal of its own."""

import csv
import hashlib
import io
import json

from decimal import Decimal

import pytest
from django.dispatch import receiver
from django.utils import timezone

from approvals import services as approval_services
from approvals.selectors import current_consent
from audit.models import AuditEntry
from signals import events, services
from signals.models import Signal, Subscription
from signals.tests.conftest import SignedClient, signal_body
from tests.concurrency import run_together
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_producer(producer):
    return services.update_producer(producer=producer, public=True)


@pytest.fixture
def subscribers(make_user, public_producer):
    users = [make_user(name) for name in ("sub-a", "sub-b", "sub-c")]
    for user in users:
        assert bearer(user).post("/api/v1/subscriptions/", {"producer": public_producer.name},
                                 format="json").status_code == 201
    return users


@pytest.fixture
def candles(shipped_instruments):
    """Bars before now, so that signals have a chart to link to."""
    from charting import services as charting_services
    from execution.tests.trading import _candles_before
    from signals.models import Instrument

    charting_services.upsert_candles(instrument=Instrument.objects.get(symbol="EURUSD"), timeframe="H1",
                                     candles=_candles_before(timezone.now()))


def feed(user, **query):
    response = bearer(user).get("/api/v1/signals/", query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- Producers: public or private, the owner decides -------------------------------------------------


def test_a_private_producer_is_listed_to_its_owner_only(producer, trader, alice):
    assert [p["name"] for p in bearer(trader).get("/api/v1/producers/").json()["results"]] == ["alpha-engine"]
    assert bearer(alice).get("/api/v1/producers/").json()["results"] == []
    assert bearer(alice).get("/api/v1/producers/alpha-engine/").status_code == 404


def test_the_owner_makes_it_public_and_every_user_sees_it(producer, trader, alice):
    response = bearer(trader).patch("/api/v1/producers/alpha-engine/", {"public": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"name": "alpha-engine", "owner": "trader", "public": True, "enabled": True,
                               "max_lag": 60, "subscribers": 0, "subscribed": False,
                               "created_at": response.json()["created_at"]}
    listed = bearer(alice).get("/api/v1/producers/").json()["results"]
    assert [(p["name"], p["owner"], p["public"]) for p in listed] == [("alpha-engine", "trader", True)]
    assert bearer(alice).get("/api/v1/producers/alpha-engine/").status_code == 200
    entry = AuditEntry.objects.get(action="producer.update")
    assert (entry.actor, entry.target_id, entry.meta) == ("trader", str(producer.pk),
                                                          {"name": "alpha-engine", "public": True})


@pytest.mark.parametrize("public", [False, True])
def test_only_the_owner_changes_a_producer_others_get_404(producer, alice, public):
    services.update_producer(producer=producer, public=public)
    response = bearer(alice).patch("/api/v1/producers/alpha-engine/", {"public": not public, "max_lag": 5},
                                   format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    producer.refresh_from_db()
    assert (producer.public, producer.max_lag_seconds) == (public, 60)


def test_patch_refuses_bad_fields_and_changes_nothing(producer, trader):
    client = bearer(trader)
    for body, field in (({"max_lag": 0}, "max_lag"), ({"max_lag": 3601}, "max_lag"), ({"max_lag": 1.5}, "max_lag"),
                        ({"public": "maybe"}, "public"), ({}, "non_field_errors")):
        response = client.patch("/api/v1/producers/alpha-engine/", body, format="json")
        assert response.status_code == 422, body
        assert field in response.json()["errors"], body
    producer.refresh_from_db()
    assert (producer.public, producer.max_lag_seconds) == (False, 60)
    assert not AuditEntry.objects.filter(action="producer.update").exists()


def test_a_disabled_producer_is_listed_to_its_owner_only(public_producer, trader, alice):
    services.disable_producer(producer=public_producer)
    assert bearer(alice).get("/api/v1/producers/").json()["results"] == []
    assert [p["enabled"] for p in bearer(trader).get("/api/v1/producers/").json()["results"]] == [False]
    assert bearer(alice).post("/api/v1/subscriptions/", {"producer": "alpha-engine"},
                              format="json").status_code == 404


# --- Subscribing ----------------------------------------------------------------------------------------


def test_subscribe_201_with_location_and_listed(public_producer, alice):
    client = bearer(alice)
    response = client.post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == {"id", "producer", "active", "created_at"}
    assert (data["producer"], data["active"]) == ("alpha-engine", True)
    assert response["Location"] == f"http://testserver/api/v1/subscriptions/{data['id']}/"
    assert client.get("/api/v1/subscriptions/").json()["results"] == [data]
    assert client.get(f"/api/v1/subscriptions/{data['id']}/").json() == data
    listed = client.get("/api/v1/producers/").json()["results"][0]
    assert (listed["subscribed"], listed["subscribers"]) == (True, 1)
    entry = AuditEntry.objects.get(action="subscription.create")
    assert (entry.actor, entry.target_id, entry.meta) == ("alice", data["id"],
                                                          {"producer": "alpha-engine", "user": "alice"})


def test_subscribing_twice_answers_200_with_the_same_subscription(public_producer, alice):
    client = bearer(alice)
    first = client.post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json")
    again = client.post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Subscription.objects.count() == 1
    assert AuditEntry.objects.filter(action="subscription.create").count() == 1


@pytest.mark.parametrize("name", ["alpha-engine", "no-such-engine"])
def test_a_private_or_unknown_producer_cannot_be_subscribed_404(producer, alice, name):
    response = bearer(alice).post("/api/v1/subscriptions/", {"producer": name}, format="json")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")
    assert not Subscription.objects.exists()


def test_the_owner_may_subscribe_to_a_private_producer_of_their_own(producer, trader, signer, now_body):
    response = bearer(trader).post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json")
    assert response.status_code == 201
    assert response.json()["active"] is True
    # The owner's feed has the signal once: the subscription adds no second copy.
    assert signer.post(now_body()).json()["deliveries"] == 1
    assert len(feed(trader)) == 1


def test_subscribe_needs_a_producer_name(public_producer, alice, anon):
    assert anon.post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json").status_code == 401
    response = bearer(alice).post("/api/v1/subscriptions/", {}, format="json")
    assert response.status_code == 422
    assert "producer" in response.json()["errors"]


def test_unsubscribe_204_and_only_ones_own(subscribers, public_producer):
    a, b = subscribers[:2]
    subscription = Subscription.objects.get(user=a)
    assert bearer(b).delete(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 404
    assert bearer(b).get(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 404
    assert bearer(a).delete(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 204
    assert bearer(a).delete(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 404
    assert bearer(a).get("/api/v1/subscriptions/").json()["results"] == []
    entry = AuditEntry.objects.get(action="subscription.delete")
    assert (entry.actor, entry.target_id, entry.meta) == ("sub-a", str(subscription.pk),
                                                          {"producer": "alpha-engine", "user": "sub-a"})


# --- Fan-out --------------------------------------------------------------------------------------------


def test_one_signed_signal_reaches_every_subscribers_feed(subscribers, trader, signer, now_body, candles):
    response = signer.post(now_body())
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["deliveries"] == 4
    # The answer is the owner's signal, as before subscriptions existed.
    assert (answer["owner"], answer["producer"]) == ("trader", "alpha-engine")
    assert [s["id"] for s in feed(trader)] == [answer["id"]]
    copies = [feed(user) for user in subscribers]
    assert all(len(copy) == 1 for copy in copies)
    ids = {answer["id"], *(copy[0]["id"] for copy in copies)}
    assert len(ids) == 4  # a signal of its own in each feed
    for user, (copy,) in zip(subscribers, copies):
        assert copy["owner"] == user.username
        assert copy["chart_url"] and copy["chart_url"] != answer["chart_url"]
        same = {k: copy[k] for k in ("instrument", "side", "time", "version", "entry_price", "stop_loss",
                                     "take_profit", "payload", "status", "expires_at", "created_at", "producer")}
        assert same == {k: answer[k] for k in same}
        assert bearer(user).get(f"/api/v1/signals/{answer['id']}/").status_code == 404


def test_a_publication_reaches_its_subscribers_with_debug_on(subscribers, signer, now_body, settings):
    # `make run` serves with DEBUG on, where Django's cursor formats each
    # statement with its parameters for the log: a bare % in the SQL broke it.
    settings.DEBUG = True
    response = signer.post(now_body())
    assert response.status_code == 201, response.content
    assert response.json()["deliveries"] == 4


def test_each_copy_has_its_own_decision(subscribers, trader, signer, now_body):
    answer = signer.post(now_body()).json()
    consent = current_consent().version
    a, b, c = subscribers
    copy_a, copy_b = feed(a)[0], feed(b)[0]
    for user, copy, decision in ((a, copy_a, "approved"), (b, copy_b, "rejected")):
        response = bearer(user).post("/api/v1/approvals/", {"signal": copy["id"], "decision": decision,
                                                            "consent_version": consent}, format="json")
        assert response.status_code == 201, response.content
    # One user cannot decide another's copy, not even the owner's.
    assert bearer(a).post("/api/v1/approvals/", {"signal": answer["id"], "decision": "approved",
                                                 "consent_version": consent}, format="json").status_code == 403
    assert [feed(user)[0]["status"] for user in (trader, a, b, c)] == ["pending", "approved", "rejected", "pending"]
    assert feed(a)[0]["approval"]["decision"] == "approved" and feed(c)[0]["approval"] is None


def test_each_approved_copy_becomes_an_order_on_its_subscribers_own_bridge(subscribers, signer, now_body):
    from execution import services as execution_services
    from execution.tests.trading import EURUSD_SPECS

    a, b = subscribers[:2]
    bridges = {}
    for user in (a, b):
        bridge, _ = execution_services.create_bridge(name=f"{user.username}-mt5", owner=user, account_ref="1")
        execution_services.upsert_symbols(bridge=bridge, symbols=[EURUSD_SPECS])
        execution_services.record_account_snapshot(bridge=bridge, time=timezone.now(), currency="USD",
                                                   balance=Decimal("10000"), equity=Decimal("10000"),
                                                   margin_free=Decimal("10000"), positions=[])
        bridges[user] = bridge
    signer.post(now_body())
    orders = {}
    for user in (a, b):
        approval = approval_services.decide_signal(user=user, signal_id=feed(user)[0]["id"], decision="approved",
                                                   consent_version=current_consent().version)
        orders[user] = approval.order
    assert {(o.owner_id, o.bridge_id, str(o.signal_id)) for o in orders.values()} == {
        (user.pk, bridges[user].pk, feed(user)[0]["id"]) for user in (a, b)}
    assert len({o.client_order_id for o in orders.values()}) == 2


def test_a_replay_reaches_nobody_twice(subscribers, public_producer, make_user, signer, now_body):
    body = now_body()
    first = signer.post(body)
    late = make_user("late")
    bearer(late).post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json")
    replay = signer.post(body)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()  # deliveries included: the first answer's
    assert Signal.objects.count() == 4
    assert all(len(feed(user)) == 1 for user in subscribers)
    assert feed(late) == []
    assert AuditEntry.objects.filter(action="signal.create").count() == 1
    assert AuditEntry.objects.filter(action="signal.publish").count() == 1
    assert AuditEntry.objects.filter(action="signal.replay").count() == 1


def test_a_conflicting_repeat_reaches_nobody(subscribers, signer):
    signer.post(signal_body())
    response = signer.post(signal_body(entry_price="1.08460"))
    assert response.status_code == 409
    assert Signal.objects.count() == 4


def test_unsubscribed_users_get_nothing_new(subscribers, signer, now_body):
    a = subscribers[0]
    signer.post(now_body(version=1))
    bearer(a).delete(f"/api/v1/subscriptions/{Subscription.objects.get(user=a).pk}/")
    assert signer.post(now_body(version=2)).json()["deliveries"] == 3
    assert [s["version"] for s in feed(a)] == [1]  # what reached the feed before stays
    assert [s["version"] for s in feed(subscribers[1])] == [2, 1]


def test_a_producer_made_private_stops_reaching_subscribers_who_stay_subscribed(subscribers, trader, signer,
                                                                                 now_body):
    a = subscribers[0]
    bearer(trader).patch("/api/v1/producers/alpha-engine/", {"public": False}, format="json")
    assert [s["active"] for s in bearer(a).get("/api/v1/subscriptions/").json()["results"]] == [False]
    assert signer.post(now_body(version=1)).json()["deliveries"] == 1
    assert feed(a) == []
    bearer(trader).patch("/api/v1/producers/alpha-engine/", {"public": True}, format="json")
    assert signer.post(now_body(version=2)).json()["deliveries"] == 4
    assert [s["version"] for s in feed(a)] == [2]


def test_a_deactivated_user_gets_nothing(subscribers, signer, now_body):
    a = subscribers[0]
    a.is_active = False
    a.save()
    assert signer.post(now_body()).json()["deliveries"] == 3
    assert not Signal.objects.filter(owner=a).exists()


def test_copies_expire_and_export_each_in_its_own_feed(subscribers, signer, now_body):
    a = subscribers[0]
    answer = signer.post(now_body()).json()
    copy = feed(a)[0]
    assert services.expire_signals(now=Signal.objects.get(pk=answer["id"]).expires_at) == 4
    assert feed(a)[0]["status"] == "expired"
    assert AuditEntry.objects.filter(action="signal.expire").count() == 4
    response = bearer(a).get("/api/v1/signals/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["id"], row["owner"], row["status"]) for row in rows] == [(copy["id"], "sub-a", "expired")]


def test_chart_urls_draw_each_copy(subscribers, signer, now_body, anon, candles):
    signer.post(now_body())
    copy = feed(subscribers[0])[0]
    path = copy["chart_url"].removeprefix("http://testserver")
    assert path.startswith(f"/charts/signals/{copy['id']}/")
    response = anon.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


def test_a_publication_is_audited_once_pinning_its_copies(subscribers, trader, signer, now_body):
    answer = signer.post(now_body()).json()
    created, published = AuditEntry.objects.filter(action__in=["signal.create", "signal.publish"]).order_by("seq")
    assert (created.action, published.action) == ("signal.create", "signal.publish")
    assert created.target_id == published.target_id == answer["id"]
    assert published.seq == created.seq + 1
    assert {created.actor, published.actor} == {"alpha-engine"}
    copies = sorted(map(str, Signal.objects.filter(origin_id=answer["id"]).values_list("pk", flat=True)))
    assert published.meta["deliveries"] == len(copies) == 3
    assert published.meta["copies_sha256"] == hashlib.sha256("\n".join(copies).encode()).hexdigest()
    assert published.meta["copies_first"] == copies
    assert published.meta["producer"] == "alpha-engine"
    assert AuditEntry.objects.count() == AuditEntry.objects.exclude(target_id__in=copies).count()


def test_the_copies_are_announced_in_one_event(subscribers, signer, now_body):
    calls = []

    @receiver(events.signals_published, dispatch_uid="test:published")
    def capture(sender, *, signals, publication, **kwargs):
        calls.append((publication.pk, sorted(str(s.owner_id) for s in signals)))

    try:
        answer = signer.post(now_body()).json()
    finally:
        events.signals_published.disconnect(dispatch_uid="test:published")
    assert calls == [(Signal.objects.get(pk=answer["id"]).pk, sorted(str(u.pk) for u in subscribers))]


def test_no_subscriber_no_batch_event(public_producer, signer, now_body):
    calls = []
    events.signals_published.connect(lambda **kwargs: calls.append(kwargs), weak=False, dispatch_uid="test:none")
    try:
        assert signer.post(now_body()).json()["deliveries"] == 1
    finally:
        events.signals_published.disconnect(dispatch_uid="test:none")
    assert calls == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_requests_racing_reach_each_subscriber_once(subscribers, producer, secret):
    body = json.dumps(signal_body()).encode()
    answers = run_together([lambda: SignedClient(producer, secret).post(None, raw=body) for _ in range(6)])
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert {a.json()["deliveries"] for a in answers} == {4}
    assert Signal.objects.count() == 4
    assert sorted(Signal.objects.values_list("owner__username", flat=True)) == ["sub-a", "sub-b", "sub-c", "trader"]


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/producers/a%00b/"),
    ("patch", "/api/v1/producers/a%00b/"),
    ("post", "/api/v1/producers/a%00b/alert-token/"),
])
def test_a_producer_name_with_a_nul_is_a_404_not_a_500(alice, method, path):
    # gunicorn percent-decodes the path: a NUL in a name matches no route (on
    # PostgreSQL the name lookup raised DataError, "cannot contain NUL": a 500).
    response = getattr(bearer(alice), method)(path, {"public": True}, format="json")
    assert response.status_code == 404, response.content
