"""The analytics app's one write of its own: recomputing every rollup from
the records (closed positions, account snapshots, fills) and comparing it
with the rollups the events kept up to date, or putting it in their place.
`manage.py recompute_analytics` runs it."""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from itertools import islice

from django.db import transaction
from django.db.models import F

from analytics import rollups, stats
from analytics.models import DailyRollup, ScopeTotals
from execution.models import AccountSnapshot, Bridge, Fill, Position

CHUNK = 2000
COMPARED = [*rollups.TRADE_FIELDS, *rollups.BEFORE_FIELDS, "last_close_time", "last_position",
            *rollups.SNAPSHOT_FIELDS, "return_sum", "accounts", "sealed"]


@dataclass
class _Day:
    scope: rollups.Scope
    day: object
    closes: rollups.DayFold = field(default_factory=rollups.DayFold)
    snapshot: dict = field(default_factory=lambda: dict.fromkeys(rollups.SNAPSHOT_FIELDS) | {
        "fills_money": Decimal(0)})

    def row(self) -> DailyRollup:
        row = DailyRollup(day=self.day, **self.scope.fields(), **self.snapshot)
        self.closes.set_on(row)
        return row


def _expected_days() -> dict:
    days = {}

    def day_of(scope, day):
        return days.setdefault((scope.scope, day), _Day(scope, day))

    closed = Position.objects.filter(status=Position.Status.CLOSED).order_by("close_time", "id").iterator(
        chunk_size=CHUNK)
    while chunk := list(islice(closed, CHUNK)):
        for trade in rollups.closed_trades(chunk):
            for scope in trade.scopes():
                day_of(scope, rollups.utc_day(trade.close_time)).closes.add(scope, trade)
    for bridge_id in Bridge.objects.values_list("pk", flat=True):
        money = _fills_money_of(bridge_id)
        for day in AccountSnapshot.objects.filter(bridge_id=bridge_id).dates("time", "day"):
            day_of(rollups.account(bridge_id), day).snapshot = rollups.account_day_of_records(bridge_id, day,
                                                                                               money=money)
    return {key: entry.row() for key, entry in days.items()}


def _fills_money_of(bridge_id):
    """`money(bridge_id, after, upto)` over every fill of the account read
    once, in time order: the days of a long history each ask for their
    interval, which the live path's query (through the positions active
    since `after`) would answer by reading every later position."""
    times, running, total = [], [], Decimal(0)
    for moment, money in (Fill.objects.filter(bridge_id=bridge_id).order_by("time")
                          .values_list("time", F("profit") + F("commission") + F("swap")).iterator(chunk_size=CHUNK)):
        total += money
        times.append(moment)
        running.append(total)

    def upto(moment):
        index = bisect_right(times, moment)
        return running[index - 1] if index else Decimal(0)

    return lambda _, after, until: upto(until) - upto(after)


def _comparable(row: DailyRollup) -> dict:
    values = {name: getattr(row, name) for name in COMPARED}
    values["accounts"] = sorted(values["accounts"])
    return values


def _expected_totals(rows: dict) -> dict:
    by_scope = defaultdict(list)
    for (scope, day), row in sorted(rows.items()):
        by_scope[scope].append(row)
    totals = {}
    for scope, scope_rows in by_scope.items():
        newest = scope_rows[-1].day
        sealed = newest - timedelta(days=rollups.SEAL_LAG_DAYS)
        for row in scope_rows:
            row.sealed = row.day <= sealed
        trades, returns = rollups.fold(row for row in scope_rows if row.sealed)
        first = scope_rows[0]
        totals[scope] = ScopeTotals(scope=scope, bridge_id=first.bridge_id, producer_id=first.producer_id,
                                    instrument_id=first.instrument_id, sealed_through=sealed, newest_day=newest,
                                    trades=trades.to_json(), returns=returns.to_json())
    return totals


def _totals_comparable(totals: ScopeTotals) -> dict:
    # As values: "0E-8" and "0" are the same zero.
    return {"sealed_through": totals.sealed_through, "newest_day": totals.newest_day,
            "trades": stats.Trades.from_json(totals.trades) if totals.trades else None,
            "returns": stats.Returns.from_json(totals.returns) if totals.returns else None}


def recompute(*, apply: bool = False) -> list[str]:
    """Every rollup recomputed from the records; returns the differences
    from the stored rollups, one line each (empty: they agree). `apply`
    puts the recomputed rollups in their place (with every bridge locked,
    so no fill or snapshot lands meanwhile)."""
    with transaction.atomic():
        if apply:
            list(Bridge.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))
        expected = _expected_days()
        expected_totals = _expected_totals(expected)
        stored = {(row.scope, row.day): row for row in DailyRollup.objects.all()}
        empty = _comparable(DailyRollup())
        differences = []
        for key in sorted(expected.keys() | stored.keys()):
            want = _comparable(expected[key]) if key in expected else empty
            have = _comparable(stored[key]) if key in stored else empty
            changed = [name for name in COMPARED if want[name] != have[name]]
            if changed:
                differences.append(f"{key[0]} {key[1]}: " + ", ".join(
                    f"{name} {have[name]!r} should be {want[name]!r}" for name in changed))
        stored_totals = {totals.scope: totals for totals in ScopeTotals.objects.all()}
        for scope in sorted(expected_totals.keys() | stored_totals.keys()):
            want = _totals_comparable(expected_totals[scope]) if scope in expected_totals else None
            have = _totals_comparable(stored_totals[scope]) if scope in stored_totals else None
            if want != have and (want is not None or have["trades"] or have["returns"]):
                differences.append(f"{scope} totals: {have!r} should be {want!r}")
        if apply and differences:
            DailyRollup.objects.all().delete()
            ScopeTotals.objects.all().delete()
            DailyRollup.objects.bulk_create(expected.values(), batch_size=CHUNK)
            ScopeTotals.objects.bulk_create(expected_totals.values(), batch_size=CHUNK)
    return differences
