"""Each worker keeps producers' credentials for WORKER_CACHE_SECONDS: what
that costs (a change made by another process is seen late, within that
bound) and what it never costs (a secret past its end, this process's own
changes, made-up key ids)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from signals import selectors, services
from machines.crypto import encrypt
from signals.models import Producer, ProducerSecret
from signals.tests.conftest import signal_body
from core.worker_cache import WorkerCache

pytestmark = pytest.mark.django_db


def disable_elsewhere(producer):
    # As another worker process would: this process is not told.
    Producer.objects.filter(pk=producer.pk).update(enabled=False)


def test_another_workers_disable_is_seen_within_the_cache_seconds(signer, producer, settings, worker_clock):
    settings.WORKER_CACHE_SECONDS = 2
    assert signer.post(signal_body(version=1)).status_code == 201
    disable_elsewhere(producer)
    assert signer.post(signal_body(version=2)).status_code == 201
    worker_clock[0] += 2.01
    assert signer.post(signal_body(version=3)).status_code == 401


def test_with_no_cache_seconds_a_disable_is_seen_at_once(signer, producer, settings):
    settings.WORKER_CACHE_SECONDS = 0
    assert signer.post(signal_body(version=1)).status_code == 201
    disable_elsewhere(producer)
    assert signer.post(signal_body(version=2)).status_code == 401


def test_this_processs_rotation_applies_at_once(signer, producer, secret, settings):
    settings.WORKER_CACHE_SECONDS = 60
    assert signer.post(signal_body(version=1)).status_code == 201
    new_secret = services.rotate_producer_secret(producer=producer, grace_seconds=0)
    assert signer.post(signal_body(version=2)).status_code == 401
    assert signer.post(signal_body(version=3), secret=new_secret).status_code == 201


def test_this_processs_disable_applies_at_once(signer, producer, settings):
    settings.WORKER_CACHE_SECONDS = 60
    assert signer.post(signal_body(version=1)).status_code == 201
    services.disable_producer(producer=producer)
    assert signer.post(signal_body(version=2)).status_code == 401


def test_a_secret_another_process_issued_verifies_at_once(signer, producer, settings):
    settings.WORKER_CACHE_SECONDS = 600
    assert signer.post(signal_body(version=1)).status_code == 201  # this worker now keeps the old secret
    new_secret = "issued-by-another-process"
    ProducerSecret.objects.create(producer=producer, encrypted_secret=encrypt(new_secret))
    assert signer.post(signal_body(version=2), secret=new_secret).status_code == 201


def test_a_kept_secret_stops_verifying_at_its_end(producer, secret, settings, django_assert_num_queries):
    settings.WORKER_CACHE_SECONDS = 600
    new_secret = services.rotate_producer_secret(producer=producer, grace_seconds=60)
    now = timezone.now()
    assert sorted(selectors.live_credentials(producer.key_id, now=now)[1]) == sorted([secret, new_secret])
    with django_assert_num_queries(0):
        found, live = selectors.live_credentials(producer.key_id, now=now + timedelta(seconds=61))
    assert (found.pk, live) == (producer.pk, [new_secret])


def test_a_key_id_that_matched_nothing_is_not_kept(trader, settings):
    settings.WORKER_CACHE_SECONDS = 600
    producer, secret = services.create_producer(name="late-engine", owner=trader)
    Producer.objects.filter(pk=producer.pk).update(key_id="prd_not_yet")
    assert selectors.live_credentials("prd_later") == (None, [])
    Producer.objects.filter(pk=producer.pk).update(key_id="prd_later")
    assert selectors.live_credentials("prd_later")[1] == [secret]


def test_a_value_read_before_a_clear_is_not_kept():
    cache = WorkerCache(lambda: 60)
    loads = []

    def load_while_another_thread_clears():
        loads.append("read")
        cache.clear()  # the change commits while this read is in flight
        return "stale"

    cache.get("key", load_while_another_thread_clears)
    cache.get("key", lambda: loads.append("read again") or "fresh")
    assert loads == ["read", "read again"]


def test_the_cache_is_bounded(worker_clock):
    cache = WorkerCache(lambda: 60, max_entries=3)
    loads = []
    for key in "abcd":
        cache.get(key, lambda key=key: loads.append(key) or key)
    assert len(cache._entries) <= 3
    cache.get("d", lambda: loads.append("d again"))
    assert loads == ["a", "b", "c", "d"]  # still kept, not loaded again
