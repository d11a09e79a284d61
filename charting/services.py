"""Writes of market data: bulk upserts, one INSERT ... ON CONFLICT DO UPDATE
statement per batch (SQLite and PostgreSQL alike), never a query per row.

Counting inserted vs updated rows: the keys that already exist are read in
the same transaction, right before the upsert, while no one else can write
the same series: PostgreSQL takes a transaction-level advisory lock on the
series, SQLite's IMMEDIATE transactions hold its single write lock from BEGIN.
So the counts are exact even when two producers race on the same bars.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from charting.models import Candle, EquityPoint

BATCH_SIZE = 1000
# Parameters in one `time IN (...)`: under SQLite's historic limit of 999.
LOOKUP_CHUNK = 900


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int


def _lock_series(*parts) -> None:
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _existing_times(queryset, times: list[datetime]) -> set[datetime]:
    found = set()
    for start in range(0, len(times), LOOKUP_CHUNK):
        found.update(queryset.filter(time__in=times[start:start + LOOKUP_CHUNK]).values_list("time", flat=True))
    return found


def upsert_candles(*, instrument, timeframe: str, candles: list[dict]) -> UpsertResult:
    """`candles`: dicts with time, open, high, low, close and volume, already
    validated (unique times, high/low bounding the other prices)."""
    with transaction.atomic():
        _lock_series("candles", instrument.pk, timeframe)
        now = timezone.now()  # taken under the lock: later writes of a series never carry an earlier time
        rows = [Candle(instrument=instrument, timeframe=timeframe, time=c["time"], open=c["open"], high=c["high"],
                       low=c["low"], close=c["close"], volume=c.get("volume", 0), updated_at=now) for c in candles]
        existing = _existing_times(Candle.objects.filter(instrument=instrument, timeframe=timeframe),
                                   [row.time for row in rows])
        Candle.objects.bulk_create(rows, batch_size=BATCH_SIZE, update_conflicts=True,
                                   unique_fields=["instrument", "timeframe", "time"],
                                   update_fields=["open", "high", "low", "close", "volume", "updated_at"])
    return UpsertResult(inserted=len(rows) - len(existing), updated=len(existing))


def upsert_equity_points(*, owner, points: list[dict]) -> UpsertResult:
    """`points`: dicts with time, equity and balance, unique times."""
    with transaction.atomic():
        _lock_series("equity", owner.pk)
        now = timezone.now()
        rows = [EquityPoint(owner=owner, time=p["time"], equity=p["equity"], balance=p["balance"], updated_at=now)
                for p in points]
        existing = _existing_times(EquityPoint.objects.filter(owner=owner), [row.time for row in rows])
        EquityPoint.objects.bulk_create(rows, batch_size=BATCH_SIZE, update_conflicts=True,
                                        unique_fields=["owner", "time"],
                                        update_fields=["equity", "balance", "updated_at"])
    return UpsertResult(inserted=len(rows) - len(existing), updated=len(existing))
