"""The audit log is append-only: nothing can change or remove an entry, not even raw SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from audit import chain
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def refused(sql, params=()):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditentry SET action = 'forged' WHERE seq = 2",
    "UPDATE audit_auditentry SET meta = '{}', hash = prev_hash",
    "DELETE FROM audit_auditentry WHERE seq = 3",
    "DELETE FROM audit_auditentry",
])
def test_raw_update_and_delete_are_refused(chain_of, sql):
    entries = chain_of(3)
    refused(sql)
    assert [chain.entry_document(e) for e in AuditEntry.objects.order_by("seq")] == [
        chain.entry_document(e) for e in entries]


def test_orm_update_delete_and_save_are_refused(chain_of):
    entry = chain_of(1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()
    entry.action = "forged"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.save()
    assert AuditEntry.objects.get().action == "test.step1"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's REPLACE conflict resolution")
def test_sqlite_insert_or_replace_cannot_overwrite_an_entry(chain_of):
    entry = chain_of(1)[0]
    refused("INSERT OR REPLACE INTO audit_auditentry (id, seq, ts, actor_type, actor, action, target_type, "
            "target_id, status, ip, user_agent, request_id, meta, prev_hash, hash) "
            "SELECT id, seq, ts, actor_type, actor, 'forged', target_type, target_id, status, ip, user_agent, "
            "request_id, meta, prev_hash, hash FROM audit_auditentry WHERE seq = 1")
    assert AuditEntry.objects.get().action == entry.action


@pytest.mark.postgres
def test_postgresql_truncate_is_refused(chain_of):
    chain_of(2)
    refused("TRUNCATE audit_auditentry")
    refused("TRUNCATE audit_auditentry CASCADE")
    assert AuditEntry.objects.count() == 2


@pytest.mark.postgres
def test_postgresql_upsert_cannot_overwrite_an_entry(chain_of):
    chain_of(1)
    refused("INSERT INTO audit_auditentry SELECT * FROM audit_auditentry WHERE seq = 1 "
            "ON CONFLICT (seq) DO UPDATE SET action = 'forged'")
    assert AuditEntry.objects.get().action == "test.step1"


def test_inserting_still_works_after_a_refusal(chain_of):
    chain_of(1)
    refused("DELETE FROM audit_auditentry")
    chain_of(1)
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]
