"""Reconciliation's cost: an account snapshot stored and reconciled vs stored alone, at 10, 200 and 2,000 open positions; target: <= 2x at 200, growing linearly.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench reconcile [--rounds 20]

In-process, on PostgreSQL, in a database of its own created and dropped
around the run with Django's test-database utilities (`test_<name>` of
DATABASE_URL), never in the database DATABASE_URL names.

For each size N, one bridge with N open positions, each opened by a fill
(the books), and a broker that reports all N in every snapshot, each with a
profit that moves from one snapshot to the next as prices do. Each round
stores two snapshots through `execution.services.record_account_snapshot`,
the service the bridge API calls, in alternating order:

- stored: the snapshot saved, the bridge's newest time, the positions'
  unrealized P&L, the equity point, the audit entry; reconciliation switched
  off (`execution.reconciliation.reconcile` replaced by a no-op);
- reconciled: the same, and the comparison with the books: the open
  positions read, paired and compared, the run and its N items stored, the
  run audited.

Every position matches (the everyday case: a run of N `match` items).
Figures: the medians of the rounds' wall times. Targets: reconciled/stored
<= 2 at 200 positions; the reconciliation's own cost (reconciled - stored)
grows linearly: per position at 2,000 no more than 1.5x per position at 200.
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

from bench.harness import Checks, argument_parser, configure_in_process, test_database

SMOKE = ["--rounds", "2", "--sizes", "10", "200"]
SIZES = (10, 200, 2000)
FILLS_PER_CALL = 1000


def open_positions(size: int):
    """A bridge whose books hold `size` open EURUSD positions (tickets
    1..size), and the positions the broker reports for them."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from execution.services import create_bridge, record_fills, upsert_symbols

    owner = get_user_model().objects.create_user(f"bench-{size}", password="bench-pass-0123456789")
    bridge, _ = create_bridge(name=f"bench-{size}", owner=owner, account_ref=f"bench-{size}")
    upsert_symbols(bridge=bridge, symbols=[{"instrument": "EURUSD", "tick_size": Decimal("0.00001"),
                                            "tick_value": Decimal("1"), "volume_min": Decimal("0.01"),
                                            "volume_step": Decimal("0.01"), "volume_max": Decimal("100")}])
    opened = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    fills = [{"fill_id": f"in-{n}", "client_order_id": None, "ticket": f"o-{n}", "position_ticket": str(n),
              "instrument": "EURUSD", "side": "buy" if n % 2 else "sell", "entry": "in", "volume": Decimal("0.10"),
              "price": Decimal("1.08450"), "time": opened, "commission": Decimal("-0.35"), "swap": Decimal(0),
              "profit": Decimal(0)} for n in range(1, size + 1)]
    for start in range(0, size, FILLS_PER_CALL):
        record_fills(bridge=bridge, fills=fills[start:start + FILLS_PER_CALL])
    # As the bridge API's validation hands them over: decimal strings, RFC 3339 times.
    reported = [{"ticket": fill["position_ticket"], "client_order_id": None, "instrument": "EURUSD",
                 "side": fill["side"], "volume": "0.1", "open_price": "1.0845",
                 "open_time": opened.strftime("%Y-%m-%dT%H:%M:%SZ"), "stop_loss": None, "take_profit": None}
                for fill in fills]
    return bridge, reported


class Account:
    """Snapshots of one bridge, a second apart, the profits moving."""

    def __init__(self, bridge, reported):
        from django.utils import timezone

        self.bridge, self.reported = bridge, reported
        self.clock = timezone.now().replace(microsecond=0)
        self.count = 0

    def store(self) -> tuple[float, dict]:
        """Wall seconds of storing the next snapshot, and the answer."""
        from execution.services import record_account_snapshot

        self.count += 1
        self.clock += timedelta(seconds=1)
        positions = [{**position, "profit": f"{(self.count + n) % 50 - 20}.50"}
                     for n, position in enumerate(self.reported)]
        began = time.perf_counter()
        summary = record_account_snapshot(bridge=self.bridge, time=self.clock, currency="USD",
                                          balance=Decimal("10000"), equity=Decimal("10000"),
                                          margin_free=Decimal("9000"), positions=positions)
        return time.perf_counter() - began, summary


def measure(size: int, rounds: int) -> tuple[float, float, list]:
    """Median seconds of a snapshot stored alone and stored and reconciled
    (after one warm-up round), and the reconciled snapshots' summaries."""
    from execution import reconciliation

    account = Account(*open_positions(size))
    stored, reconciled, summaries = [], [], []
    for round_number in range(rounds + 1):
        timings = {}
        for variant in ("stored", "reconciled") if round_number % 2 else ("reconciled", "stored"):
            if variant == "stored":
                with mock.patch.object(reconciliation, "reconcile", lambda **_: None):
                    timings[variant], _ = account.store()
            else:
                timings[variant], summary = account.store()
                summaries.append(summary)
        if round_number:  # the first is the warm-up
            stored.append(timings["stored"])
            reconciled.append(timings["reconciled"])
    return statistics.median(stored), statistics.median(reconciled), summaries


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds per size (default 20), after one "
                                                               "warm-up round")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="open positions per account (default: 10 200 2000)")
    args = parser.parse_args(argv)
    configure_in_process()

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: DATABASE_URL=postgres://user@host:5432/name")
    check = Checks()
    with test_database():
        print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version}); "
              f"{args.rounds} rounds per size after a warm-up round, medians")
        print(f"  {'positions':>9}  {'stored':>10}  {'reconciled':>10}  {'ratio':>5}  {'reconciliation':>14}  "
              f"{'per position':>12}")
        extra_per_position = {}
        for size in args.sizes:
            stored, reconciled, summaries = measure(size, args.rounds)
            extra = reconciled - stored
            extra_per_position[size] = extra / size
            print(f"  {size:>9}  {stored * 1000:>7.1f} ms  {reconciled * 1000:>7.1f} ms  {reconciled / stored:>5.2f}  "
                  f"{extra * 1000:>11.1f} ms  {extra / size * 1e6:>9.0f} us")
            check(all(summary["status"] == "ok" and summary["counts"] == {"match": size} for summary in summaries),
                  f"{size} positions: every reconciled snapshot a run of {size} matches")
            if size == 200:
                check.ratio("reconciled/stored at 200 positions:", reconciled / stored, at_most=2)
        if {200, 2000} <= set(extra_per_position):
            check.ratio("reconciliation per position, 2,000 vs 200 (linear: 1):",
                        extra_per_position[2000] / extra_per_position[200], at_most=1.5)
        print(f"  load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    return check.status()
