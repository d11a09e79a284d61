"""`python manage.py verify_audit`: accepts a good chain, names the first
broken seq, and catches entries cut off the end against a checkpoint."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import chain
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def verify(*args):
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def broken(*args):
    with pytest.raises(CommandError) as failure:
        verify(*args)
    assert failure.value.returncode == 1
    return str(failure.value)


def execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_good_chain_is_accepted_and_its_head_printed(chain_of):
    head = chain_of(5)[-1]
    out = verify()
    assert "Audit chain intact: 5 entries." in out
    assert f"head seq=5 hash={head.hash}" in out
    assert f"checkpoint: 5:{head.hash}" in out
    assert verify("--batch-size", "2") == out


def test_an_empty_chain_is_accepted(db):
    assert "empty" in verify()


def test_an_edited_row_is_named(chain_of, triggers_lifted):
    chain_of(5)
    execute("UPDATE audit_auditentry SET meta = %s WHERE seq = 3", ['{"amount": "1000000"}'])
    message = broken("--batch-size", "2")
    assert "broken at seq 3" in message and "does not match its hash" in message


def test_a_forged_row_with_a_recomputed_hash_breaks_the_next_link(chain_of, triggers_lifted):
    entries = chain_of(5)
    forged = chain.entry_document(entries[2]) | {"actor": "innocent-bystander"}
    execute("UPDATE audit_auditentry SET actor = %s, hash = %s WHERE seq = 3",
            [forged["actor"], chain.compute_hash(forged)])
    message = broken()
    assert "broken at seq 4" in message and "prev_hash" in message


def test_a_rewritten_tail_is_caught_by_an_earlier_checkpoint(chain_of, triggers_lifted):
    """A forger who recomputes every hash after the edit keeps the chain
    consistent; only a head kept elsewhere shows it."""
    entries = chain_of(4)
    checkpoint = f"4:{entries[3].hash}"
    prev_hash = entries[1].hash
    for entry in entries[2:]:
        document = chain.entry_document(entry) | {"prev_hash": prev_hash, "meta": {"rewritten": True}}
        prev_hash = chain.compute_hash(document)
        execute("UPDATE audit_auditentry SET meta = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                ['{"rewritten": true}', document["prev_hash"], prev_hash, entry.seq])
    assert "intact" in verify()
    message = broken("--checkpoint", checkpoint)
    assert "broken at seq 4" in message and "checkpoint's hash" in message


def test_a_gap_is_named(chain_of, triggers_lifted):
    chain_of(5)
    execute("DELETE FROM audit_auditentry WHERE seq = 2")
    message = broken("--batch-size", "1")
    assert "broken at seq 2" in message and "missing" in message


def test_entries_cut_off_the_end_are_caught_by_the_checkpoint(chain_of, triggers_lifted):
    entries = chain_of(5)
    execute("DELETE FROM audit_auditentry WHERE seq >= 4")
    assert "head seq=3" in verify()  # the chain alone cannot tell
    message = broken("--checkpoint", f"5:{entries[4].hash}")
    assert "broken at seq 5" in message and "cut off" in message
    assert "head seq=3" in verify("--checkpoint", f"3:{entries[2].hash}")


def test_a_checkpoint_with_another_hash_fails(chain_of):
    entries = chain_of(3)
    assert "broken at seq 2" in broken("--checkpoint", f"2:{entries[0].hash}")


@pytest.mark.parametrize("args", [
    ["--checkpoint", "5"], ["--checkpoint", "0:" + "a" * 64], ["--checkpoint", "5:xyz"],
    ["--batch-size", "0"], ["--batch-size", "many"], ["--batch-size", "100001"],
])
def test_bad_arguments_are_refused(db, args):
    with pytest.raises(CommandError):
        verify(*args)


def test_the_walk_never_loads_the_whole_chain(chain_of, django_assert_num_queries):
    chain_of(9)
    assert AuditEntry.objects.count() == 9
    with django_assert_num_queries(1 + 3):  # the head, then three batches of 4, 4 and 1
        verify("--batch-size", "4")
