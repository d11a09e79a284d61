"""core.bulk.insert_all stores exactly what bulk_create stores (COPY on
PostgreSQL), JSON and decimals included, in the caller's transaction."""

import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.bulk import insert_all
from execution.models import AccountSnapshot, Bridge

pytestmark = pytest.mark.django_db

FIELDS = ("time", "currency", "balance", "equity", "margin_free", "positions", "created_at")


@pytest.fixture
def bridges(user):
    return [Bridge.objects.create(owner=user, name=f"b{n}", key_id=f"brg_{secrets.token_hex(12)}", account_ref="1",
                                  enabled=not n) for n in range(2)]


def snapshots(bridge, start):
    return [AccountSnapshot(bridge=bridge, time=start + timedelta(minutes=n), currency="USD", balance=Decimal("10000"),
                            equity=Decimal("10000.12345678") - n, margin_free=9000 + n, created_at=start,
                            positions=[{"ticket": str(n), "volume": Decimal("0.28"), "open_time": start,
                                        "comment": "naïve \"quoted\"\ttab"}])
            for n in range(3)]


def stored(bridge):
    return list(AccountSnapshot.objects.filter(bridge=bridge).order_by("time").values_list(*FIELDS))


def test_rows_are_stored_as_bulk_create_stores_them(bridges):
    start = timezone.now()
    mine, reference = bridges
    rows = snapshots(mine, start)
    with transaction.atomic():
        insert_all(rows)
    AccountSnapshot.objects.bulk_create(snapshots(reference, start))

    assert stored(mine) == stored(reference) and len(stored(mine)) == 3
    assert all(not row._state.adding for row in rows)


def test_a_conflicting_row_fails_the_whole_insert(bridges):
    start = timezone.now()
    rows = snapshots(bridges[0], start)
    rows[2].time = rows[0].time  # one snapshot per bridge and time
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_all(rows)
    assert not AccountSnapshot.objects.exists()
