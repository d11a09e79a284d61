"""Appending: the chain's shape, what lands in an entry, and atomicity with
the action it records."""

import datetime
import decimal
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from approvals import events as approval_events
from audit import chain
from audit.handlers import DOMAIN_EVENTS
from audit.models import AuditEntry, ChainHead
from audit.services import append_entry
from audit.verification import verify_chain
from signals import events as signal_events
from core import request_context

User = get_user_model()


@pytest.fixture
def in_request():
    token = request_context.begin(request_id="req-42", ip="198.51.100.7", user_agent="strategy-engine/2.1")
    request_context.set_actor("producer", "alpha-engine")
    yield
    request_context.end(token)


@pytest.mark.django_db
def test_chain_starts_at_genesis_and_links_each_entry_to_the_one_before(chain_of):
    entries = chain_of(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == chain.GENESIS_HASH == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    for stored in AuditEntry.objects.all():
        assert chain.compute_hash(chain.entry_document(stored)) == stored.hash


@pytest.fixture
def audit_receivers_only():
    """Sends an event to audit's receiver alone: the test's stand-in target
    (a user) is no order or position for the other apps' receivers."""
    kept = {}

    def isolate(event):
        kept[event] = event.receivers
        event.receivers = [r for r in event.receivers if str(r[0][0]).startswith("audit:")]
        event.sender_receivers_cache.clear()

    yield isolate
    for event, receivers in kept.items():
        event.receivers = receivers
        event.sender_receivers_cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "action"), list(DOMAIN_EVENTS.items()), ids=list(DOMAIN_EVENTS.values()))
def test_every_domain_event_lands_with_context_target_and_redacted_meta(in_request, make_user, audit_receivers_only,
                                                                        event, action):
    audit_receivers_only(event)
    target = make_user("someone")
    event.send(sender=User, target=target, meta={
        "price": decimal.Decimal("1.08450"), "ref": uuid.UUID(int=7), "secret": "s3cr3t",
        "headers": {"X-Signature": "sha256=abc", "User-Agent": "engine"}, "items": [{"api_key": "k", "n": 1}],
    })
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.status, entry.actor_type, entry.actor) == (action, "success", "producer",
                                                                            "alpha-engine")
    assert (entry.target_type, entry.target_id) == ("user", str(target.pk))
    assert (entry.ip, entry.user_agent, entry.request_id) == ("198.51.100.7", "strategy-engine/2.1", "req-42")
    assert entry.meta == {"price": "1.08450", "ref": str(uuid.UUID(int=7)), "headers": {"User-Agent": "engine"},
                          "items": [{"n": 1}]}
    assert chain.compute_hash(chain.entry_document(entry)) == entry.hash


@pytest.mark.django_db
def test_event_without_target_with_failure_status_and_explicit_actor():
    signal_events.signal_ingest_denied.send(sender=None, meta={"reason": "bad-signature", "key_id": "pk_1"},
                                            status=AuditEntry.Status.FAILURE, actor_type="producer", actor="pk_1")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.status, entry.target_type, entry.target_id) == (
        "signal.ingest_denied", "failure", "", "")
    assert (entry.actor_type, entry.actor, entry.ip, entry.request_id) == ("producer", "pk_1", None, None)
    assert entry.meta == {"reason": "bad-signature", "key_id": "pk_1"}


@pytest.mark.django_db
def test_outside_a_request_the_actor_is_the_system():
    entry = append_entry(action="signal.expire", meta={"when": datetime.datetime(2026, 11, 26, 7, 0,
                                                                                tzinfo=datetime.timezone.utc)})
    assert (entry.actor_type, entry.actor, entry.ip, entry.user_agent) == ("system", None, None, "")
    assert AuditEntry.objects.get().meta == {"when": "2026-11-26T07:00:00Z"}


@pytest.mark.django_db
@pytest.mark.parametrize(("client_ip", "stored"), [
    ("::ffff:198.51.100.7", "::ffff:198.51.100.7"),  # an IPv4 client on a dual-stack socket
    ("fe80::1%eth0", "fe80::1"),  # inet keeps no zone
    ("2001:DB8::0001", "2001:db8::1"),
    ("not an address", None),
])
def test_the_client_address_is_stored_as_it_was_hashed(client_ip, stored):
    token = request_context.begin(ip=client_ip)
    try:
        entry = append_entry(action="test.address")
    finally:
        request_context.end(token)
    assert entry.ip == AuditEntry.objects.get().ip == stored
    assert verify_chain().ok


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_an_append_is_one_statement(chain_of):
    chain_of(1)  # the head row exists from here on
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        append_entry(action="test.cost")
    assert len(queries) == 1


# --- atomicity: the entry and its action commit together or not at all -------

@pytest.mark.django_db(transaction=True)
def test_a_failing_append_aborts_the_action_that_sent_the_event():
    with pytest.raises(TypeError), transaction.atomic():
        user = User.objects.create(username="victim")
        # meta that cannot be written as JSON: the receiver raises inside the action's transaction
        approval_events.consent_published.send(sender=User, target=user, meta={"blob": object()})
    assert not User.objects.filter(username="victim").exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_database_error_while_appending_aborts_the_action():
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("ALTER TABLE audit_auditentry RENAME TO audit_auditentry_elsewhere")
    with pytest.raises(DatabaseError), transaction.atomic():
        user = User.objects.create(username="victim")
        signal_events.producer_created.send(sender=User, target=user, meta={})
    assert not User.objects.filter(username="victim").exists()


@pytest.mark.django_db(transaction=True)
def test_an_entry_rolls_back_with_its_action_and_leaves_no_gap():
    with pytest.raises(RuntimeError), transaction.atomic():
        user = User.objects.create(username="doomed")
        signal_events.producer_created.send(sender=User, target=user, meta={})
        assert AuditEntry.objects.count() == 1
        raise RuntimeError("the action fails after its event was recorded")
    assert not AuditEntry.objects.exists()
    assert append_entry(action="test.after").seq == 1


# --- metrics -------------------------------------------------------------------

def committed_count(action):
    return REGISTRY.get_sample_value("audit_events_total", {"action": action}) or 0


@pytest.mark.django_db
def test_audit_events_total_counts_committed_entries_only(django_capture_on_commit_callbacks):
    before = committed_count("test.metric")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            append_entry(action="test.metric")
            raise RuntimeError("rolled back")
    assert committed_count("test.metric") == before
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            append_entry(action="test.metric")
            append_entry(action="test.metric")
            assert committed_count("test.metric") == before  # not yet committed
    assert committed_count("test.metric") == before + 2


@pytest.mark.django_db
def test_what_is_stored_reads_back_to_the_same_hash(in_request):
    """Whatever the database does to JSON (jsonb reorders keys, prints numbers
    its own way), the stored entry must still recompute to its hash."""
    meta = {"z": 1, "a": [1.5, 1e16, 2 ** 60, None, True], "text": "naïve ✓ \"quoted\" \\ \n",
            "nested": {"b": {"y": -0.0, "x": 0.1}}, 7: "int key", "hostile\x00key": ["a\x00b"]}
    entry = append_entry(action="test.roundtrip", meta=meta)
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert chain.entry_document(stored) == chain.entry_document(entry)
    assert chain.compute_hash(chain.entry_document(stored)) == stored.hash == entry.hash
    assert stored.meta["a"] == ["1.5", "1e+16", 2 ** 60, None, True]  # floats kept as their decimal text
    assert stored.meta["hostile\ufffdkey"] == ["a\ufffdb"]  # PostgreSQL cannot store NUL


def test_canonical_json_cut_around_the_link_reassembles_exactly():
    document = {"id": "e1", "seq": 1234, "ts": "2026-11-26T07:00:00.000001Z", "actor_type": "user", "actor": None,
                "action": "x", "target_type": "", "target_id": "", "status": "success", "ip": None,
                "user_agent": "ü\"", "request_id": None, "meta": {"prev_hash": "decoy", "seq": 1},
                "prev_hash": "ab" * 32, "hash": "ignored"}
    before, between, after = chain.canonical_json_around_link(document)
    assert before + document["prev_hash"] + between + "1234" + after == chain.canonical_json(document)


@pytest.mark.django_db
def test_a_lost_head_row_is_rebuilt_from_the_newest_entry(chain_of):
    entries = chain_of(2)
    ChainHead.objects.all().delete()
    third = append_entry(action="test.after-loss")
    assert (third.seq, third.prev_hash) == (3, entries[-1].hash)
    assert ChainHead.objects.values_list("seq", "hash").get() == (3, third.hash)
