"""Writes of market data: bulk upserts, one INSERT ... ON CONFLICT DO UPDATE
statement per batch (SQLite and PostgreSQL alike), never a query per row.

Counting inserted vs updated rows: the keys that already exist are read in
the same transaction, right before the upsert, while no one else can write
the same series: PostgreSQL takes a transaction-level advisory lock on the
series, SQLite's IMMEDIATE transactions hold its single write lock from BEGIN.
So the counts are exact even when two producers race on the same bars.

A signed request is applied once. Within its signature's 300 s the very same
bytes can be sent again (the signing has no nonce): a network replay, or the
producer's own retry after a timeout. Each applied request leaves an
UpsertReceipt of its signed bytes, read under the same series lock, so the
same request again gets its first answer and writes nothing, and a request
signed before a correction cannot undo it. Receipts are pruned some minutes
after their signature has expired.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from charting.models import Candle, EquityPoint, UpsertReceipt
from core.lookups import chunks
from machines.authentication import SignedRequest

BATCH_SIZE = 1000
# A receipt outlives its signature by this much: a request authenticated just
# before its signature expired may still be on its way to the series lock (a
# worker is killed after 30 s), and other hosts' clocks may run a little ahead.
RECEIPT_KEPT_AFTER_EXPIRY = timedelta(minutes=10)


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
    for chunk in chunks(times):
        found.update(queryset.filter(time__in=chunk).values_list("time", flat=True))
    return found


def _earlier_answer(signed: SignedRequest | None) -> UpsertResult | None:
    """The answer `signed` got when it was applied, if it was (under the series lock)."""
    if signed is None:
        return None
    receipt = UpsertReceipt.objects.filter(producer=signed.client, digest=signed.digest).first()
    return None if receipt is None else UpsertResult(inserted=receipt.inserted, updated=receipt.updated)


def _keep_receipt(signed: SignedRequest | None, result: UpsertResult) -> None:
    if signed is None:
        return
    UpsertReceipt.objects.create(producer=signed.client, digest=signed.digest, inserted=result.inserted,
                                 updated=result.updated, valid_until=signed.valid_until)
    # Outside the upsert's transaction, so that its row locks are held for one statement only.
    transaction.on_commit(lambda: UpsertReceipt.objects.filter(
        valid_until__lt=timezone.now() - RECEIPT_KEPT_AFTER_EXPIRY).delete())


def _stamp(series) -> datetime:
    """The `updated_at` of a write of `series`, taken under its lock: later
    than every stamp it holds, so that the series' data version moves,
    however the writing host's clock compares with the last writer's."""
    newest = series.aggregate(newest=Max("updated_at"))["newest"]
    now = timezone.now()
    return now if newest is None or now > newest else newest + timedelta(microseconds=1)


def upsert_candles(*, instrument, timeframe: str, candles: list[dict],
                   signed: SignedRequest | None = None) -> UpsertResult:
    """`candles`: dicts with time, open, high, low, close and volume, already
    validated (unique times, high/low bounding the other prices). `signed`:
    the producer's request they came in, applied once (None for the
    platform's own loading: demo data, imports)."""
    with transaction.atomic():
        _lock_series("candles", instrument.pk, timeframe)
        if (earlier := _earlier_answer(signed)) is not None:
            return earlier
        now = _stamp(Candle.objects.filter(instrument=instrument, timeframe=timeframe))
        rows = [Candle(instrument=instrument, timeframe=timeframe, time=c["time"], open=c["open"], high=c["high"],
                       low=c["low"], close=c["close"], volume=c.get("volume", 0), updated_at=now) for c in candles]
        existing = _existing_times(Candle.objects.filter(instrument=instrument, timeframe=timeframe),
                                   [row.time for row in rows])
        Candle.objects.bulk_create(rows, batch_size=BATCH_SIZE, update_conflicts=True,
                                   unique_fields=["instrument", "timeframe", "time"],
                                   update_fields=["open", "high", "low", "close", "volume", "updated_at"])
        result = UpsertResult(inserted=len(rows) - len(existing), updated=len(existing))
        _keep_receipt(signed, result)
    return result


def upsert_equity_points(*, owner, points: list[dict], signed: SignedRequest | None = None) -> UpsertResult:
    """`points`: dicts with time, equity and balance, unique times. `signed`:
    as for upsert_candles()."""
    with transaction.atomic():
        _lock_series("equity", owner.pk)
        if (earlier := _earlier_answer(signed)) is not None:
            return earlier
        now = _stamp(EquityPoint.objects.filter(owner=owner))
        rows = [EquityPoint(owner=owner, time=p["time"], equity=p["equity"], balance=p["balance"], updated_at=now)
                for p in points]
        existing = _existing_times(EquityPoint.objects.filter(owner=owner), [row.time for row in rows])
        EquityPoint.objects.bulk_create(rows, batch_size=BATCH_SIZE, update_conflicts=True,
                                        unique_fields=["owner", "time"],
                                        update_fields=["equity", "balance", "updated_at"])
        result = UpsertResult(inserted=len(rows) - len(existing), updated=len(existing))
        _keep_receipt(signed, result)
    return result
