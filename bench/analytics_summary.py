"""A performance summary's cost against the history's length: 10 years of daily snapshots and 100,000 closed trades vs 1 year and 1,000; target: <= 2x.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench analytics_summary [--repeat 100]

In-process, on PostgreSQL, in a database of its own created and dropped
around the run with Django's test-database utilities (`test_<name>` of
DATABASE_URL), never in the database DATABASE_URL names.

Two accounts side by side: a short one (365 days of evening snapshots, 1,000
closed positions) and a long one (3,650 days, 100,000 positions; --scale
divides the long history's size for a quick run). Their records are
inserted directly (the positions as the fills would have left them, the
snapshots' equity a random walk) and their rollups made by `manage.py
recompute_analytics --apply`, which the run also times; every summary is
then checked against the rollups the command made.

Measured: `GET /api/v1/analytics/summary/?window=all` and `?window=365d`
through Django's test client (JWT, the whole stack but the socket), the two
accounts alternating. Figures: medians after a warm-up. The target is on
window=all, which must read the scope's totals and the few days after them,
not the history.
"""

import os
import statistics
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from bench.harness import Checks, argument_parser, in_process_on_postgres

SMOKE = ["--repeat", "3", "--scale", "100"]
D = Decimal


def history(owner, *, days: int, trades: int, seed: int):
    """An account with `days` evening snapshots up to yesterday and
    `trades` closed positions spread over them."""
    import numpy as np
    from django.utils import timezone

    from execution.models import AccountSnapshot, Bridge, Position
    from signals.models import Instrument

    bridge = Bridge.objects.create(owner=owner, name=f"bench-{owner.username}", key_id=f"brg_bench_{seed}",
                                   account_ref=owner.username)
    eurusd = Instrument.objects.get(symbol="EURUSD")
    rng = np.random.default_rng(seed)
    today = timezone.now().astimezone(dt_timezone.utc).date()
    first = datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=dt_timezone.utc)
    equity = D("100000")
    snapshots = []
    for day in range(days):
        equity = (equity * D(repr(1 + float(rng.normal(0.0003, 0.008))))).quantize(D("0.01"))
        snapshots.append(AccountSnapshot(bridge=bridge, time=first + timedelta(days=day, hours=21), currency="USD",
                                         balance=equity, equity=equity, margin_free=equity))
    AccountSnapshot.objects.bulk_create(snapshots, batch_size=5000)
    positions = []
    for n in range(trades):
        opened = first + timedelta(seconds=int(n * days * 86400 / trades) + 3600)
        pnl = D(repr(round(float(rng.normal(5, 40)), 2)))
        positions.append(Position(bridge=bridge, owner=owner, instrument=eurusd, side="buy", status="closed",
                                  ticket=str(n), volume=0, opened_volume=D("0.1"), open_price=D("1.08"),
                                  open_time=opened, close_price=D("1.081"), close_time=opened + timedelta(minutes=50),
                                  close_reason="manual", realized_pnl=pnl, initial_risk=D("50"),
                                  origin="external"))
        if len(positions) == 5000:
            Position.objects.bulk_create(positions)
            positions = []
    Position.objects.bulk_create(positions)
    return bridge


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--repeat", type=int, default=100, help="summaries per account and window (default 100)")
    parser.add_argument("--scale", type=int, default=1, help="divide the long history by this (default 1: "
                                                             "3,650 days and 100,000 trades)")
    args = parser.parse_args(argv)
    check = Checks()
    with in_process_on_postgres() as connection:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from analytics import selectors
        from tests.fixtures import bearer

        users = get_user_model().objects
        short_owner = users.create_user("bench-short", password="bench-pass-0123456789")
        long_owner = users.create_user("bench-long", password="bench-pass-0123456789")
        long_days, long_trades = 3650 // args.scale, 100_000 // args.scale
        began = time.perf_counter()
        history(short_owner, days=365, trades=1000, seed=1)
        history(long_owner, days=long_days, trades=long_trades, seed=2)
        inserted = time.perf_counter() - began
        began = time.perf_counter()
        call_command("recompute_analytics", "--apply", stdout=open(os.devnull, "w"))
        recomputed = time.perf_counter() - began
        print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version}); records "
              f"inserted in {inserted:.1f} s, rollups recomputed from them in {recomputed:.1f} s")
        clients = {"short": bearer(short_owner), "long": bearer(long_owner)}
        for name, owner in (("short", short_owner), ("long", long_owner)):
            body = clients[name].get("/api/v1/analytics/summary/", {"window": "all"}).json()
            expected = selectors.summary(subject=selectors.subject_for(user=owner), window="all")
            check(body["trades"] == (1000 if name == "short" else long_trades)
                  and body["days"] == (364 if name == "short" else long_days - 1)
                  and body["sharpe"] == expected["sharpe"],
                  f"{name}: {body['trades']} trades over {body['days']} daily returns, as the rollups say")
        medians = {}
        for window in ("all", "365d"):
            timings = {"short": [], "long": []}
            for round_number in range(args.repeat + 1):
                for name in ("short", "long") if round_number % 2 else ("long", "short"):
                    started = time.perf_counter()
                    response = clients[name].get("/api/v1/analytics/summary/", {"window": window})
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 200, response.content
                    if round_number:
                        timings[name].append(elapsed)
            medians[window] = {name: statistics.median(values) for name, values in timings.items()}
            print(f"  window={window:<4}  1 year, 1,000 trades: {medians[window]['short'] * 1000:6.2f} ms   "
                  f"{long_days / 365:.0f} years, {long_trades:,} trades: {medians[window]['long'] * 1000:6.2f} ms   "
                  f"ratio {medians[window]['long'] / medians[window]['short']:.2f}")
        check.ratio("window=all, long/short:", medians["all"]["long"] / medians["all"]["short"], at_most=2)
        check.ratio("window=365d, long/short:", medians["365d"]["long"] / medians["365d"]["short"], at_most=2)
        print(f"  load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    return check.status()
