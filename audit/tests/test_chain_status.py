"""The audit chain as the console shows it (audit/chain_status.py): each look
walks only the entries added since the verified point, a long chain is
shown verified only as far as the looks got, a break once found stays
shown until `verify_audit` finds the chain whole, and entries cut off the
end are noticed."""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from audit import chain_status
from audit.chain_status import BEHIND, BROKEN, EMPTY, VERIFIED
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def look(**options):
    return chain_status.status(now=timezone.now(), **options)


def verify_audit():
    call_command("verify_audit", stdout=io.StringIO())


def test_an_empty_chain_is_empty(db):
    assert look().state == EMPTY


def test_each_look_walks_only_the_entries_added_since_the_last(chain_of, django_assert_num_queries):
    chain_of(5)
    found = look()
    head = AuditEntry.objects.get(seq=5)
    assert (found.state, found.head_seq, found.head_hash, found.verified_seq) == (VERIFIED, 5, head.hash, 5)
    chain_of(3)
    with django_assert_num_queries(2):  # the head, then the three new entries
        found = look()
    assert (found.state, found.head_seq, found.verified_seq) == (VERIFIED, 8, 8)
    with django_assert_num_queries(1):  # nothing new: the head only
        assert look().state == VERIFIED


def test_a_long_chain_is_verified_only_as_far_as_the_looks_got(chain_of, time_machine):
    chain_of(10)
    time_machine.move_to(timezone.now(), tick=False)
    first = look(limit=4)
    assert (first.state, first.verified_seq, first.unverified, first.checked_at) == (BEHIND, 4, 6, timezone.now())
    time_machine.shift(timedelta(minutes=1))
    second = look(limit=4)
    assert (second.state, second.verified_seq, second.unverified, second.checked_at) == (
        BEHIND, 8, 2, timezone.now())
    assert look(limit=4).state == VERIFIED


def test_without_a_kept_point_the_walk_starts_again_from_seq_1(chain_of):
    chain_of(6)
    assert look().state == VERIFIED
    cache.clear()
    found = look(limit=4)
    assert (found.state, found.verified_seq) == (BEHIND, 4)


def test_an_edited_entry_after_the_point_is_found_and_stays_shown(chain_of, triggers_lifted):
    chain_of(5)
    assert look().state == VERIFIED
    chain_of(3)
    execute("UPDATE audit_auditentry SET meta = %s WHERE seq = 7", ['{"amount": "1000000"}'])
    found = look()
    assert (found.state, found.broken_seq, found.verified_seq) == (BROKEN, 7, 6)
    assert "does not match its hash" in found.problem
    assert look().state == BROKEN  # without walking again


def test_verify_audit_keeps_its_head_and_its_break(chain_of, triggers_lifted, django_assert_num_queries):
    chain_of(5)
    verify_audit()
    with django_assert_num_queries(1):  # verify_audit walked it all: the head only
        assert look(limit=1).state == VERIFIED
    # An edit before the point: no look walks there again; verify_audit does, and the console shows it.
    execute("UPDATE audit_auditentry SET actor = %s WHERE seq = 2", ["mallory"])
    assert look().state == VERIFIED
    with pytest.raises(CommandError):
        verify_audit()
    found = look()
    assert (found.state, found.broken_seq) == (BROKEN, 2)


def test_entries_cut_off_the_end_are_noticed(chain_of, triggers_lifted):
    chain_of(8)
    assert look().verified_seq == 8
    execute("DELETE FROM audit_auditentry WHERE seq > 5")
    found = look()
    assert (found.state, found.head_seq, found.broken_seq) == (BROKEN, 5, 6)
    assert "entries were cut off the end" in found.problem
