"""An approval that becomes an order (pre-trade checks, sizing, order and command) vs an approval of a user without a bridge, on PostgreSQL; target: ratio <= 1.5.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench approval_order [--rounds 400]

In-process, through the whole stack (JWT, middleware, DRF, the approvals
service, the audit entries, the response) with Django's test client, in a
database of its own created and dropped around the run with Django's
test-database utilities (`test_<name>` of DATABASE_URL), never in the
database DATABASE_URL names.

Two users approve one pending signal of their feed each per round,
`POST /api/v1/approvals/`, in alternating order:

- trader: an enabled bridge with the broker's specs of the instrument, a
  fresh account snapshot, an account with history (snapshots, closed
  positions, a few open ones); the approval locks the bridge, reads the
  policy and the account's facts, sizes the order, runs every check,
  creates the `pending` order and its `open` command, audited. Between
  rounds (untimed) the bridge's pending orders are marked filled, as a
  bridge that executes them would, so every order passes the checks and
  gets its command, the costliest case;
- plain: no bridge; the approval alone, audited.

Figures: the medians of the wall times, and the queries of one approval of
each. Target: trader/plain <= 1.5.
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal

from bench.harness import Checks, argument_parser, configure_in_process, test_database

SMOKE = ["--rounds", "10"]
WARM_UP = 20
HISTORY_SNAPSHOTS = 200
HISTORY_CLOSED = 100
HISTORY_OPEN = 3


def make_user(name, *, bridge: bool):
    """A user, their producer, and (`bridge`) the account an order needs."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bench.trading import allow_busy_trading
    from execution.models import AccountSnapshot, Position
    from execution.services import create_bridge, upsert_symbols
    from signals.models import Instrument
    from signals.services import create_producer

    user = get_user_model().objects.create_user(name, password="bench-pass-0123456789")
    producer, _ = create_producer(name=f"{name}-engine", owner=user)
    if not bridge:
        return user, producer
    allow_busy_trading(user=user, symbols=["EURUSD"])
    account, _ = create_bridge(name=f"{name}-mt5", owner=user, account_ref="bench")
    upsert_symbols(bridge=account, symbols=[{"instrument": "EURUSD", "tick_size": Decimal("0.00001"),
                                             "tick_value": Decimal("1"), "volume_min": Decimal("0.01"),
                                             "volume_step": Decimal("0.01"), "volume_max": Decimal("100")}])
    now = timezone.now()
    AccountSnapshot.objects.bulk_create([
        AccountSnapshot(bridge=account, time=now - timedelta(seconds=5 * n), currency="USD",
                        balance=Decimal("10000"), equity=Decimal("10000"), margin_free=Decimal("9000"))
        for n in range(HISTORY_SNAPSHOTS)])
    eurusd = Instrument.objects.get(symbol="EURUSD")
    closed = {"status": "closed", "volume": Decimal(0), "close_price": Decimal("1.08500"),
              "realized_pnl": Decimal("5.00")}
    Position.objects.bulk_create([
        Position(bridge=account, owner=user, instrument=eurusd, side="buy", ticket=str(n),
                 opened_volume=Decimal("0.10"), open_price=Decimal("1.08450"), open_time=now - timedelta(hours=2),
                 origin="external", **({**closed, "close_time": now - timedelta(minutes=n)} if n >= HISTORY_OPEN
                                       else {"volume": Decimal("0.10")}))
        for n in range(HISTORY_OPEN + HISTORY_CLOSED)])
    account.last_snapshot_at = now
    account.save(update_fields=["last_snapshot_at"])
    return user, producer


def pending_signals(producer, count):
    """`count` pending signals in the producer's owner's feed, as ingestion stores them."""
    from django.utils import timezone

    from signals.models import Instrument
    from signals.services import ingest_signal

    eurusd, now = Instrument.objects.get(symbol="EURUSD"), timezone.now()
    return [ingest_signal(producer=producer, instrument=eurusd, side="buy", time=now, version=n + 1,
                          entry_price=Decimal("1.08450"), stop_loss=Decimal("1.08100"),
                          take_profit=Decimal("1.09000"), expires_at=now + timedelta(hours=2))[0]
            for n in range(count)]


def client_of(user):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def approve(client, signal) -> float:
    """Wall seconds of the approval."""
    began = time.perf_counter()
    response = client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                                  "consent_version": "1"}, format="json")
    elapsed = time.perf_counter() - began
    assert response.status_code == 201, response.content
    return elapsed


def queries_of(client, signal) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        approve(client, signal)
    return len(captured.captured_queries)


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--rounds", type=int, default=400, help="timed approvals per user (default 400), after "
                                                                f"{WARM_UP} warm-up rounds")
    args = parser.parse_args(argv)
    configure_in_process(THROTTLE_DECISION="1000000/min")  # a person decides far more slowly

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: DATABASE_URL=postgres://user@host:5432/name")
    load_before = os.getloadavg()[0]
    check = Checks()
    with test_database():
        from execution.models import Command, Order

        trader, trader_producer = make_user("bench-trader", bridge=True)
        plain, plain_producer = make_user("bench-plain", bridge=False)
        total = WARM_UP + args.rounds + 1
        signals = {"trader": pending_signals(trader_producer, total), "plain": pending_signals(plain_producer, total)}
        clients = {"trader": client_of(trader), "plain": client_of(plain)}
        filled = Order.objects.filter(owner=trader, status=Order.Status.PENDING)
        samples = {"trader": [], "plain": []}
        for round_number in range(WARM_UP + args.rounds):
            for who in ("trader", "plain") if round_number % 2 else ("plain", "trader"):
                elapsed = approve(clients[who], signals[who][round_number])
                if round_number >= WARM_UP:
                    samples[who].append(elapsed)
            filled.update(status=Order.Status.FILLED)  # untimed: the bridge executed it
        queries = {who: queries_of(clients[who], signals[who][-1]) for who in ("trader", "plain")}
        orders = Order.objects.filter(owner=trader)
        print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version}); "
              f"{args.rounds} approvals per user after {WARM_UP} warm-up rounds, alternating, medians")
        median = {who: statistics.median(values) * 1000 for who, values in samples.items()}
        for who, label in (("plain", "approval, no bridge"), ("trader", "approval + checks + order")):
            print(f"  {label:<26} median {median[who]:6.2f} ms, min {min(samples[who]) * 1000:6.2f} ms, "
                  f"{queries[who]} queries")
        print(f"  load average (1 min, {os.cpu_count()} CPUs): {load_before:.2f} before, "
              f"{os.getloadavg()[0]:.2f} after")
        check(orders.count() == total and not orders.filter(status=Order.Status.DENIED).exists(),
              f"every trader approval made an order that passed the checks ({orders.count()} orders)")
        check(Command.objects.filter(order__owner=trader, type=Command.Type.OPEN).count() == total,
              "each with its open command")
        check(not Order.objects.filter(owner=plain).exists(), "no order for the user without a bridge")
        check.ratio("approval with order / approval without bridge:", median["trader"] / median["plain"],
                    at_most=1.5)
    return check.status()
