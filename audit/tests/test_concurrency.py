"""Concurrent appends on PostgreSQL, with real threads and connections: the
chain lock must serialize writers from the lock to their commit."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from audit.models import AuditEntry
from audit.services import append_entry
from audit.verification import verify_chain
from signals import events as signal_events

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

User = get_user_model()


def in_thread(target, *args):
    errors = []

    def run():
        try:
            target(*args)
        except Exception as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_concurrent_writers_leave_one_gapless_verifiable_chain():
    writers, per_writer = 8, 25
    start = threading.Barrier(writers)

    def write(n):
        start.wait()
        for i in range(per_writer):
            # An audited action: its own row and its entry, in one transaction.
            with transaction.atomic():
                user = User.objects.create(username=f"w{n}-{i}")
                signal_events.producer_created.send(sender=User, target=user, meta={"writer": n})

    threads = [in_thread(write, n) for n in range(writers)]
    for thread, errors in threads:
        thread.join(timeout=60)
        assert not errors
    total = writers * per_writer
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, total + 1))
    assert User.objects.count() == total
    report = verify_chain(batch_size=37)
    assert report.ok and report.verified == total


def test_the_chain_stays_locked_until_the_appending_transaction_commits():
    appended, release = threading.Event(), threading.Event()
    second = {}

    def first_writer():
        with transaction.atomic():
            append_entry(action="test.first")
            appended.set()
            release.wait(timeout=10)  # the action goes on after its entry was appended

    def second_writer():
        second["entry"] = append_entry(action="test.second")

    first, first_errors = in_thread(first_writer)
    assert appended.wait(timeout=10)
    other, other_errors = in_thread(second_writer)
    other.join(timeout=0.5)
    assert other.is_alive(), "a second writer appended while the first one's transaction was still open"
    release.set()
    for thread, errors in ((first, first_errors), (other, other_errors)):
        thread.join(timeout=10)
        assert not errors
    head = AuditEntry.objects.get(seq=1)
    assert (second["entry"].seq, second["entry"].prev_hash) == (2, head.hash)
    assert verify_chain().ok


def test_a_writer_that_rolls_back_leaves_no_gap_for_the_one_waiting():
    appended, release = threading.Event(), threading.Event()
    second = {}

    def doomed_writer():
        with pytest.raises(RuntimeError), transaction.atomic():
            append_entry(action="test.doomed")
            appended.set()
            release.wait(timeout=10)
            raise RuntimeError("the action fails")

    def second_writer():
        second["entry"] = append_entry(action="test.survivor")

    doomed, doomed_errors = in_thread(doomed_writer)
    assert appended.wait(timeout=10)
    other, other_errors = in_thread(second_writer)
    release.set()
    for thread, errors in ((doomed, doomed_errors), (other, other_errors)):
        thread.join(timeout=10)
        assert not errors
    assert (second["entry"].seq, second["entry"].prev_hash) == (1, "0" * 64)
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["test.survivor"]
