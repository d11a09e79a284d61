"""The webhook sender against real HTTP receivers on loopback: signed so
that the standardwebhooks package verifies it, retried with backoff
through every kind of failure, nothing lost, one endpoint's trouble never
another's, and a sender killed mid-delivery costs a duplicate at most."""

import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from huey.contrib.djhuey import HUEY
from prometheus_client import REGISTRY

from audit.models import AuditEntry
from delivery import services
from delivery.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from delivery.tests.conftest import free_port, make_event
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


def backoff_passes():
    """As if every wait (the delivery's backoff, the endpoint's rest) were over."""
    now = timezone.now()
    Delivery.objects.filter(status="pending").update(next_attempt_at=now)
    WebhookEndpoint.objects.update(paused_until=None)


def counted(status):
    return REGISTRY.get_sample_value("webhook_deliveries_total", {"status": status}) or 0


def test_a_receiver_written_with_standardwebhooks_verifies_every_delivery(alice, receiver, endpoint_for):
    endpoint, secret = endpoint_for(alice, receiver.url)
    receiver.secret = secret
    events = [make_event(alice, payload={"n": n, "text": "ünïcode ✓"}) for n in range(3)]
    assert services.send_due() == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    bodies = receiver.bodies()
    assert [body["id"] for body in bodies] == [event.pk for event in events]
    assert bodies[0] == {"id": events[0].pk, "type": "signal.created",
                         "timestamp": events[0].created_at.isoformat().replace("+00:00", "Z"),
                         "data": {"n": 0, "text": "ünïcode ✓"}}
    assert [request["headers"]["webhook-id"] for request in receiver.requests] == [str(e.pk) for e in events]
    assert receiver.requests[0]["path"] == "/hooks/in?token=abc"


def test_a_wrong_secret_fails_verification_and_is_retried(alice, receiver, endpoint_for):
    endpoint_for(alice, receiver.url)
    receiver.secret = "whsec_" + "A" * 44
    make_event(alice)
    services.send_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 400)


def test_500_then_success_nothing_lost_and_the_backoff_grows(alice, receiver, endpoint_for,
                                                            django_capture_on_commit_callbacks):
    endpoint_for(alice, receiver.url)
    events = [make_event(alice) for _ in range(3)]
    receiver.answer = 500
    before = counted("retrying"), counted("succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        services.send_due()
    # The receiver failed as a whole: one attempt, then the endpoint rests instead of failing each delivery.
    assert len(receiver.requests) == 1
    first = Delivery.objects.get(event=events[0])
    assert 4.5 <= (first.next_attempt_at - timezone.now()).total_seconds() <= 5.5
    assert WebhookEndpoint.objects.get().paused_until is not None
    assert services.send_due() == 0  # resting
    backoff_passes()
    with django_capture_on_commit_callbacks(execute=True):
        services.send_due()
    first.refresh_from_db()
    assert first.tries == 2 and 18 <= (first.next_attempt_at - timezone.now()).total_seconds() <= 22
    receiver.answer = 200
    backoff_passes()
    with django_capture_on_commit_callbacks(execute=True):
        services.send_due()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert {event.pk for event in events} <= {body["id"] for body in receiver.bodies()}
    assert counted("retrying") - before[0] == 2 and counted("succeeded") - before[1] == 3
    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_a_timeout_is_a_failed_attempt(alice, receiver, endpoint_for, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    endpoint_for(alice, receiver.url)
    make_event(alice)
    receiver.answer = ("sleep", 2)
    services.send_due()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and attempt.error == "No answer within 0.5 s." and not attempt.succeeded
    assert attempt.duration_ms < 1500
    receiver.answer = 200
    backoff_passes()
    services.send_due()
    assert Delivery.objects.get().status == "succeeded"


def test_a_redirect_is_not_followed(alice, make_receiver, endpoint_for):
    first, elsewhere = make_receiver(), make_receiver()
    endpoint_for(alice, first.url)
    first.answer = ("redirect", elsewhere.url)
    make_event(alice)
    services.send_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)
    assert "not followed" in delivery.last_error
    assert elsewhere.requests == []


def test_an_unreachable_receiver_gets_everything_once_it_listens(alice, make_receiver, endpoint_for):
    port = free_port()
    endpoint_for(alice, f"http://127.0.0.1:{port}/in")
    events = [make_event(alice) for _ in range(2)]
    services.send_due()
    assert DeliveryAttempt.objects.get().error == "Could not connect (refused or unreachable)."
    receiver = make_receiver(port)
    backoff_passes()
    services.send_due()
    assert sorted(body["id"] for body in receiver.bodies()) == [event.pk for event in events]


def test_a_failing_endpoint_does_not_hold_up_another(alice, make_receiver, endpoint_for, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    slow, healthy = make_receiver(), make_receiver()
    slow.answer = ("sleep", 2)
    endpoint_for(alice, slow.url)
    endpoint_for(alice, healthy.url)
    events = [make_event(alice) for _ in range(20)]
    services.send_due()
    assert sorted(body["id"] for body in healthy.bodies()) == [event.pk for event in events]
    assert len(slow.requests) == 1  # one timeout, then it rests: not twenty
    assert Delivery.objects.filter(status="pending").count() == 20


def test_at_most_the_in_flight_limit_of_senders_per_endpoint(alice, bob, make_receiver, endpoint_for, settings):
    """A sender sends its claim one delivery after another: the requests in
    flight to an endpoint are the live claims on it."""
    settings.WEBHOOK_MAX_IN_FLIGHT = 2
    endpoint_for(alice, make_receiver().url)
    endpoint_for(bob, make_receiver().url)
    for _ in range(3):
        make_event(alice)
    make_event(bob)
    first = services.claim_due()
    assert sorted(d.endpoint.owner.username for d in first) == ["alice", "alice", "alice", "bob"]
    make_event(alice), make_event(bob)
    second = services.claim_due()
    assert sorted(d.endpoint.owner.username for d in second) == ["alice", "bob"]
    waiting = make_event(alice)
    assert services.claim_due() == []  # alice's endpoint has two senders
    services.record_attempts([(delivery, services.http.Outcome(200, "", 5), timezone.now()) for delivery in first])
    assert [d.event_id for d in services.claim_due()] == [waiting.pk]


def test_a_sender_killed_mid_delivery_is_replaced_after_its_lease(alice, receiver, endpoint_for):
    """The sender posts and dies before recording: the row stays claimed
    until its lease runs out, then another sender sends it again with the
    same webhook-id, and the receiver can tell the duplicate."""
    endpoint_for(alice, receiver.url)
    event = make_event(alice)
    (claimed,) = services.claim_due()
    services.http.post(claimed.endpoint.url, body=services.envelope(event).encode(),
                       headers={"webhook-id": str(event.pk)}, timeout=5)  # ...and then the process is killed
    assert services.claim_due() == []  # still leased
    later = claimed.lease_until + timedelta(seconds=1)
    (again,) = services.claim_due(now=later)
    assert again.pk == claimed.pk
    services.record_attempts([(again, *services.post(again))])  # another sender's attempt
    assert [request["headers"]["webhook-id"] for request in receiver.requests] == [str(event.pk)] * 2
    assert Delivery.objects.get().status == "succeeded"


def test_a_stale_claim_does_not_overwrite_the_newer_one(alice, receiver, endpoint_for):
    endpoint_for(alice, receiver.url)
    make_event(alice)
    (stale,) = services.claim_due()
    (current,) = services.claim_due(now=stale.lease_until + timedelta(seconds=1))
    services.record_attempts([(current, *services.post(current))])
    services.record_attempts([(stale, services.http.Outcome(500, "Answered 500.", 5), timezone.now())])
    assert Delivery.objects.get().status == "succeeded"
    assert DeliveryAttempt.objects.count() == 2  # both attempts are in the log


def test_retries_last_at_least_a_day_then_the_delivery_fails(alice, receiver, endpoint_for):
    assert sum(services.RETRY_DELAYS) * (1 - services.JITTER) >= 86400
    endpoint_for(alice, receiver.url)
    make_event(alice)
    receiver.answer = 404  # this message's trouble, not the receiver's: no rest for the endpoint
    for _ in range(len(services.RETRY_DELAYS) + 1):
        backoff_passes()
        services.send_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.finished_at is not None) == ("failed", 10, True)
    backoff_passes()
    assert services.send_due() == 0


def test_sustained_failure_disables_the_endpoint_and_says_why(alice, receiver, endpoint_for, settings):
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 3600
    endpoint, _ = endpoint_for(alice, receiver.url)
    receiver.answer = 503
    make_event(alice)
    for _ in range(services.DISABLE_MIN_FAILURES):
        backoff_passes()
        services.send_due()
    assert WebhookEndpoint.objects.get().enabled  # many failures, but not for long yet
    WebhookEndpoint.objects.update(failing_since=timezone.now() - timedelta(hours=2))
    make_event(alice)
    backoff_passes()
    services.send_due()
    shown = bearer(alice).get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert shown["enabled"] is False and "Answered 503." in shown["disabled_reason"]
    assert shown["disabled_at"] and shown["consecutive_failures"] >= services.DISABLE_MIN_FAILURES + 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    entry = AuditEntry.objects.get(action="webhook.disable")
    assert entry.status == "failure" and entry.actor_type == "system"


def test_an_address_refused_at_send_time_is_never_connected(alice, receiver, endpoint_for, settings):
    """DNS may answer differently when the attempt is made than when the
    endpoint was registered: the check runs again before every attempt."""
    endpoint_for(alice, receiver.url)
    make_event(alice)
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    services.send_due()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and "may not reach" in attempt.error
    assert receiver.requests == []


def test_the_commit_wakes_the_sender(alice, receiver, endpoint_for, django_capture_on_commit_callbacks):
    endpoint_for(alice, receiver.url)
    HUEY.immediate = True  # the task runs here, as the consumer would run it
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = make_event(alice)
    finally:
        HUEY.immediate = False
    assert json.loads(receiver.wait_for(1)[0]["body"])["id"] == event.pk
    assert Delivery.objects.get().status == "succeeded"


def test_the_latency_from_event_to_delivery_is_observed(alice, receiver, endpoint_for,
                                                         django_capture_on_commit_callbacks):
    endpoint_for(alice, receiver.url)
    make_event(alice)
    before = REGISTRY.get_sample_value("webhook_delivery_seconds_count") or 0
    with django_capture_on_commit_callbacks(execute=True):
        services.send_due()
    assert REGISTRY.get_sample_value("webhook_delivery_seconds_count") == before + 1


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_time_limit():
    """A socket's timeout bounds each read: a status line, then a header byte
    every 0.5 s, would hold the attempt as long as the receiver liked."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def drip():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not stop.wait(0.5):
            try:
                conn.sendall(b"a")
            except OSError:
                break
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    threading.Timer(8, stop.set).start()  # without a limit, the attempt lasts as long as the receiver drips
    started = time.monotonic()
    try:
        outcome = services.http.post(f"http://127.0.0.1:{server.getsockname()[1]}/", body=b"{}", headers={},
                                     timeout=1)
    finally:
        stop.set()
        server.close()
    assert time.monotonic() - started < 2
    assert (outcome.status_code, outcome.error, outcome.succeeded) == (None, "No answer within 1 s.", False)


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_deleted_mid_batch_does_not_make_anothers_success_be_sent_again(
        alice, bob, make_receiver, endpoint_for):
    """One batch holds several users' endpoints; alice deletes hers while the
    sender posts. Bob's delivery, which his receiver took, is recorded."""
    hers, his = make_receiver(), make_receiver()
    hers.answer = 500
    endpoint_a, _ = endpoint_for(alice, hers.url)
    endpoint_b, _ = endpoint_for(bob, his.url)
    make_event(alice)
    make_event(bob)
    attempts = [(delivery, *services.post(delivery)) for delivery in services.claim_due()]
    assert len(attempts) == 2
    services.delete_endpoint(endpoint=endpoint_a)  # alice, meanwhile, through the API
    services.record_attempts(attempts)
    bobs = Delivery.objects.get(endpoint=endpoint_b)
    assert (bobs.status, bobs.attempts, DeliveryAttempt.objects.count()) == ("succeeded", 1, 1)
    assert services.claim_due() == []


def test_an_attempt_that_raises_fails_its_own_delivery_only(alice, bob, make_receiver, endpoint_for, monkeypatch,
                                                            caplog):
    """Whatever goes wrong in one attempt, the batch's other answers are
    recorded (not sent again), and the log keeps the receiver's token out."""
    hers, his = make_receiver(), make_receiver()
    endpoint_for(alice, hers.url)
    endpoint_for(bob, his.url)
    make_event(bob)
    make_event(alice)
    real_post = services.http.post

    def post(url, **kwargs):
        if url == hers.url:
            raise UnicodeEncodeError("latin-1", url, 0, 1, "ordinal not in range(256)")
        return real_post(url, **kwargs)

    monkeypatch.setattr(services.http, "post", post)
    assert services.send_due() == 2
    statuses = dict(Delivery.objects.values_list("endpoint__owner__username", "status"))
    assert statuses == {"bob": "succeeded", "alice": "pending"} and len(his.requests) == 1
    failed = DeliveryAttempt.objects.get(delivery__endpoint__owner=alice)
    assert (failed.status_code, failed.error) == (None, "The attempt failed on the platform's side.")
    assert "UnicodeEncodeError" in caplog.text and "token" not in caplog.text


def port_of(receiver) -> int:
    return int(receiver.url.split(":")[2].split("/")[0])


@pytest.fixture
def fake_dns(monkeypatch):
    """hooks.example.com resolves to what `answers` holds (a list of IPs), after `delay` seconds."""
    real = socket.getaddrinfo
    state = {"answers": ["127.0.0.1"], "delay": 0}

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.example.com":
            return real(host, port, *args, **kwargs)
        time.sleep(state["delay"])
        return [info for address in state["answers"] for info in real(address, port, *args, **kwargs)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


def test_pruning_never_drops_a_delivery_that_is_still_being_retried(alice, receiver, endpoint_for, settings):
    """A delivery is 'never lost' and retried 'for at least a day' (contract 13): the hourly
    prune must not delete an undelivered one because its event passed EVENT_RETENTION_DAYS."""
    endpoint_for(alice, receiver.url)
    event = make_event(alice)
    # The event is 30 minutes short of the retention when its delivery is (re)sent; the receiver is down.
    Event.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS) + timedelta(minutes=30))
    receiver.answer = 503
    services.send_due()
    assert Delivery.objects.get().status == "pending"  # retries follow for another day
    services.prune_events(now=timezone.now() + timedelta(hours=1))  # the next hourly prune
    assert Delivery.objects.filter(status="pending").count() == 1


def test_next_attempt_at_says_when_a_resting_endpoint_is_tried_again(alice, receiver, endpoint_for):
    """docs/api.md: a pending delivery shows `next_attempt_at`; while its endpoint rests after the
    receiver failed as a whole (up to 10 h), nothing is attempted before the rest ends."""
    endpoint, _ = endpoint_for(alice, receiver.url)
    receiver.answer = 500
    for _ in range(3):
        make_event(alice)
    services.send_due()  # one attempt fails; the endpoint rests, the other two wait untried
    resting_until = WebhookEndpoint.objects.get().paused_until
    assert resting_until is not None
    listed = bearer(alice).get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert [d["status"] for d in listed] == ["pending"] * 3
    assert services.claim_due() == []  # indeed nothing is attempted now
    for delivery in listed:
        assert parse_datetime(delivery["next_attempt_at"]) >= resting_until - timedelta(seconds=1), delivery


def test_a_slow_dns_answer_counts_against_the_attempts_time_limit(alice, receiver, endpoint_for, fake_dns,
                                                                   settings):
    """docs/api.md#webhooks: WEBHOOK_TIMEOUT_SECONDS is 'for the whole attempt: resolving, connecting,
    sending and reading the answer'."""
    endpoint_for(alice, f"http://hooks.example.com:{port_of(receiver)}/in")
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    fake_dns["delay"] = 3
    make_event(alice)
    started = time.monotonic()
    services.send_due()
    assert time.monotonic() - started < 1.5
    assert DeliveryAttempt.objects.get().duration_ms < 1500


def test_a_host_with_several_addresses_is_reached_at_a_live_one(alice, receiver, endpoint_for, fake_dns, settings):
    """A receiver's name with two allowed addresses (DNS round robin), one of them down: every other HTTP
    client tries the next address; the sender fails every attempt (and in the end disables the endpoint)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    endpoint_for(alice, f"http://hooks.example.com:{port_of(receiver)}/in")
    fake_dns["answers"] = ["127.0.0.2", "127.0.0.1"]  # nothing listens on 127.0.0.2
    make_event(alice)
    services.send_due()
    delivery = Delivery.objects.get()
    assert delivery.status == "succeeded", delivery.last_error
