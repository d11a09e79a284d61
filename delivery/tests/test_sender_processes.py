"""What only real processes and connections show (PostgreSQL): senders
claiming at the same moment never claim one delivery twice nor exceed an
endpoint's in-flight limit, and a task consumer killed in the middle of a
delivery loses nothing: the delivery goes out again, with the same
webhook-id, once its claim runs out."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from delivery import services
from delivery.models import Delivery
from delivery.tests.conftest import make_event
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_senders_never_claim_twice_nor_past_the_limit(alice, bob, make_receiver, endpoint_for, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT = 1
    endpoint_for(alice, make_receiver().url)
    endpoint_for(bob, make_receiver().url)
    for _ in range(10):
        make_event(alice)
        make_event(bob)
    claims = run_together([services.claim_due] * 4)
    claimed = [delivery for claim in claims for delivery in claim]
    assert len({delivery.pk for delivery in claimed}) == len(claimed) > 0  # nobody claimed a delivery twice
    senders = {}
    for delivery in claimed:
        senders.setdefault(delivery.endpoint.owner_id, set()).add(delivery.lease_token)
    assert {owner: len(tokens) for owner, tokens in senders.items()} == {alice.pk: 1, bob.pk: 1}


@pytest.mark.skipif(not settings.REDIS_URL, reason="the task queue of run_huey is Redis in this run")
def test_a_consumer_killed_mid_delivery_loses_nothing(alice, receiver, endpoint_for, tmp_path):
    endpoint_for(alice, receiver.url)
    event = make_event(alice)
    release = threading.Event()
    receiver.answer = ("hold", release)  # the request arrives, and the answer waits
    database = connection.settings_dict
    env = {**os.environ, "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "ENV_FILE": "/dev/null",
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    consumer = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "1"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=(tmp_path / "huey.log").open("w"))
    try:
        from delivery import tasks

        tasks.send_due_deliveries()  # the commit's wake-up, as the outbox sends it
        assert len(receiver.wait_for(1, timeout=60)) == 1, (tmp_path / "huey.log").read_text()[-2000:]
        consumer.send_signal(signal.SIGKILL)  # mid-delivery: sent, no answer read, nothing recorded
        consumer.wait(10)
    finally:
        release.set()
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait(10)
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 0 and delivery.lease_until is not None
    receiver.answer = 200
    assert services.claim_due() == []  # its claim holds until it runs out...
    (again,) = services.claim_due(now=delivery.lease_until + timedelta(seconds=1))  # ...then another sender's
    services.record_attempts([(again, *services.post(again))])  # another sender's attempt
    assert Delivery.objects.get().status == "succeeded"
    assert [request["headers"]["webhook-id"] for request in receiver.requests] == [str(event.pk)] * 2
