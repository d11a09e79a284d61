"""Appending many entries at once (`append_entries`): the same entries as
one `append_entry` each, one segment of the chain, a bounded number of
statements however many there are, and atomic with the caller's action."""

import decimal
from functools import partial

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from audit import chain, sql
from audit.models import AuditEntry
from audit.services import append_entries, append_entry
from audit.verification import verify_chain
from core import request_context
from tests.concurrency import run_together

# Every argument an entry takes, and content the database is known to store
# differently from Python's own writing of it (floats, NUL, int keys).
FIELDS = [
    {"action": "test.batch", "target_type": "order", "target_id": 17, "meta": {"qty": decimal.Decimal("0.10")}},
    {"action": "test.batch", "status": AuditEntry.Status.FAILURE, "actor_type": "bridge", "actor": "brg_1",
     "meta": {"z": [1.5, 1e16, 2 ** 60, None, True], 7: "int key", "nul\x00": "a\x00b", "token": "dropped",
              "text": "naïve ✓ \"quoted\" \\ \n\u2028"}},
    {"action": "test.other", "target_type": "", "target_id": "", "meta": None},
]

# What differs between two appends of the same arguments: identity, time and place in the chain.
OWN = {"id", "ts", "seq", "prev_hash", "hash"}


def content(entry):
    return {key: value for key, value in chain.entry_document(entry).items() if key not in OWN}


@pytest.fixture
def in_request():
    token = request_context.begin(request_id="req-7", ip="::ffff:198.51.100.7", user_agent="engine/1 \x00")
    request_context.set_actor("producer", "alpha")
    yield
    request_context.end(token)


@pytest.mark.django_db
def test_a_batch_is_what_one_append_each_would_have_written(chain_of, in_request):
    before = chain_of(2)
    batch = append_entries(entries=FIELDS)
    singles = [append_entry(**fields) for fields in FIELDS]
    assert [content(entry) for entry in batch] == [content(entry) for entry in singles]
    assert [entry.seq for entry in batch + singles] == [3, 4, 5, 6, 7, 8]
    assert [entry.prev_hash for entry in batch] == [before[-1].hash, batch[0].hash, batch[1].hash]
    stored = {entry.pk: entry for entry in AuditEntry.objects.all()}
    for entry in batch:
        assert chain.entry_document(stored[entry.pk]) == chain.entry_document(entry)
    assert batch[1].meta == {"z": ["1.5", "1e+16", 2 ** 60, None, True], "7": "int key", "nul\ufffd": "a\ufffdb",
                             "text": "naïve ✓ \"quoted\" \\ \n\u2028"}
    report = verify_chain()
    assert report.ok and report.verified == 8


@pytest.mark.django_db
def test_an_empty_batch_writes_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert append_entries(entries=[]) == []
    assert len(queries) == 0
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_large_batch_is_one_segment_in_a_few_statements(chain_of):
    chain_of(1)  # the head row exists from here on
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        batch = append_entries(entries=[{"action": "test.bulk", "target_id": i, "meta": {"i": i}}
                                        for i in range(5000)])
    assert [entry.seq for entry in batch] == list(range(2, 5002))
    if connection.vendor == "postgresql":  # SQLite splits the insert by its variable limit
        assert len(queries) == 2  # lock and read the head; insert the entries and move the head
    report = verify_chain(batch_size=2000)
    assert report.ok and report.verified == 5001


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_batch_leaves_no_gap(chain_of):
    chain_of(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        append_entries(entries=FIELDS)
        raise RuntimeError("the action fails after its entries were appended")
    assert append_entries(entries=FIELDS[:2])[0].seq == 2
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert verify_chain().ok


def committed(action):
    return REGISTRY.get_sample_value("audit_events_total", {"action": action}) or 0


@pytest.mark.django_db
def test_a_batch_is_counted_when_it_commits(django_capture_on_commit_callbacks):
    batch, other = committed("test.batch"), committed("test.other")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        append_entries(entries=FIELDS)
        assert committed("test.batch") == batch
    assert (committed("test.batch"), committed("test.other")) == (batch + 2, other + 1)


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_entry_the_database_hashed_differently_is_never_written(chain_of, monkeypatch):
    """PostgreSQL hashes a single entry itself; if its bytes ever differed
    from what the verifier hashes, the entry would be rejected forever after:
    the append fails, and the action's transaction cannot commit."""
    chain_of(1)
    monkeypatch.setattr(sql, "APPEND_ENTRY", sql.APPEND_ENTRY.replace("hash || %(before)s", "hash || ' ' || %(before)s"))
    with transaction.atomic():
        with pytest.raises(IntegrityError, match="disagree"):
            append_entry(action="test.misfit")
        assert connection.needs_rollback
    assert not AuditEntry.objects.filter(action="test.misfit").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_and_single_appends_interleave_into_one_chain():
    """Each batch is one segment: its entries follow each other, whatever
    the other writers append meanwhile."""
    rounds, batch_size, singles = 10, 20, 40

    def write_batches(writer):
        for n in range(rounds):
            append_entries(entries=[{"action": "test.batch", "target_id": f"{writer}.{n}", "meta": {"i": i}}
                                    for i in range(batch_size)])

    def write_singles(writer):
        for n in range(singles):
            append_entry(action="test.single", target_id=f"{writer}.{n}")

    run_together([partial(write_batches, w) for w in range(3)] + [partial(write_singles, w) for w in range(3)])
    total = 3 * rounds * batch_size + 3 * singles
    rows = list(AuditEntry.objects.order_by("seq").values_list("seq", "action", "target_id", "meta"))
    assert [seq for seq, *_ in rows] == list(range(1, total + 1))
    segments = {}
    for seq, action, target_id, meta in rows:
        if action == "test.batch":
            segments.setdefault(target_id, []).append((seq, meta["i"]))
    assert len(segments) == 3 * rounds
    for segment in segments.values():
        first = segment[0][0]
        assert segment == [(first + i, i) for i in range(batch_size)]
    report = verify_chain(batch_size=97)
    assert report.ok and report.verified == total
