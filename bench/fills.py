"""The bridge's fills call, 1000 fills per call, vs a bare bulk insert of the same rows; target: >= 0.5x its rows/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench fills [--rounds 10]

The production stack (bench/harness.py `Stack`: a scratch PostgreSQL
database, a private redis-server) with gunicorn at 1 worker (the calls come
one at a time; a second worker would take some of them cold). Each call is
what a bridge sends after a busy spell: --per-call fills (default 1000) of
half as many positions, each position's opening `in` fill and the `out`
fill that closed it at its stop loss or its take profit, in time order. A
fifth of the positions are platform orders' (100 of the 500: as many orders
as a risk policy lets an account have on their way at once), the others
were opened by hand at the broker (no client order id: `external`
positions). The orders were made beforehand the way production makes them
(a producer's signal, its owner's approval, the order sized from the
bridge's symbol specs and account snapshot, then polled, so it is `sent`).

Rounds alternate (and swap which goes first) so that the load of a shared
machine weighs on both alike, after one round of each as a warm-up:

- endpoint: POST /api/v1/bridge/fills through gunicorn over loopback, the
  client's wall time: the HMAC check over the whole body, field validation
  of every fill, the duplicate check, the positions opened and closed from
  their fills, the orders moved to `filled`, the audit entries, the answer;
- baseline: the same fill rows stored with `Fill.objects.bulk_create` in one
  transaction, from this process over the same database, wall time of the
  transaction including making the model instances from the parsed values.
  The baseline's rows belong to a second bridge (the fill ids are the same),
  to positions created before the timing starts: the baseline stores the
  rows and nothing else, the least any implementation must do, so the
  ratio is the price of everything the call does on top of storing them.

Target: the endpoint's fills per second >= 0.5 x the baseline's (medians of
the rounds). Checks afterwards: every call answered 200 with all its fills
inserted; the fills, positions (all closed) and filled orders the calls
should have made; `manage.py verify_audit`.

--audit-only is a diagnosis, never the figure: the server's receivers of
execution's batch event are the audit log's alone (bench/fills_urls.py),
so the call is what execution and audit do, without delivery's push events
and analytics' rollups.
"""

import http.client
import json
import os
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from bench.harness import Checks, Stack, argument_parser, configure_in_process, scratch_database_url, timed_post
from bench.mix import iso
from tradeplatform_client import BRIDGE_KEY_HEADER, sign

SMOKE = ["--rounds", "2", "--per-call", "100"]

SERVER_ENV = {"LOG_LEVEL": "WARNING", "THROTTLE_BRIDGE": "1000000/min"}
INSTRUMENTS = {"EURUSD": Decimal("1.08450"), "GBPUSD": Decimal("1.26500"), "AUDUSD": Decimal("0.66000")}
# Every instrument above: 5 decimal places, a tick of 0.00001 worth 1 USD per lot.
TICK_SIZE, TICK_VALUE = Decimal("0.00001"), Decimal("1")
STOP_DISTANCE, TARGET_DISTANCE = Decimal("0.00300"), Decimal("0.00600")
EQUITY = Decimal("100000.00")
COMMISSION_PER_LOT = Decimal("3.50")


def create_accounts():
    """The trader with the measured bridge, a producer and the current
    consent, and a second user whose bridge owns the baseline's rows."""
    from django.contrib.auth import get_user_model

    from approvals.selectors import current_consent
    from bench.trading import allow_busy_trading
    from execution.services import create_bridge, upsert_symbols
    from signals.services import create_producer

    User = get_user_model()
    trader = User.objects.create_user("bench-trader", password="bench-pass-0123456789")
    allow_busy_trading(user=trader, symbols=INSTRUMENTS)
    bridge, secret = create_bridge(name="bench-bridge", owner=trader, account_ref="bench-account")
    upsert_symbols(bridge=bridge, symbols=[
        {"instrument": symbol, "tick_size": TICK_SIZE, "tick_value": TICK_VALUE, "volume_min": Decimal("0.01"),
         "volume_step": Decimal("0.01"), "volume_max": Decimal("100")} for symbol in INSTRUMENTS])
    producer, _ = create_producer(name="bench-engine", owner=trader)
    other = User.objects.create_user("bench-baseline", password="bench-pass-0123456789")
    baseline_bridge, _ = create_bridge(name="bench-baseline", owner=other, account_ref="bench-baseline")
    return bridge, secret, producer, baseline_bridge, current_consent().version


def make_orders(*, bridge, producer, consent_version, count, round_number):
    """`count` orders the way production makes them: the producer's signal,
    its owner's approval (the order is sized and created in that
    transaction), then a poll (the order is `sent`)."""
    from approvals.services import decide_signal
    from execution.models import Order
    from execution.services import poll_commands, record_account_snapshot
    from signals.models import Instrument
    from signals.services import ingest_signal

    now = datetime.now(timezone.utc)
    # A fresh snapshot per round: sizing needs equity no older than ACCOUNT_STALE_SECONDS.
    record_account_snapshot(bridge=bridge, time=now, currency="USD", balance=EQUITY, equity=EQUITY,
                            margin_free=EQUITY, positions=[])
    instruments = {instrument.symbol: instrument for instrument in Instrument.objects.filter(symbol__in=INSTRUMENTS)}
    symbols = sorted(INSTRUMENTS)
    approvals = []
    for n in range(count):
        symbol, side = symbols[n % len(symbols)], ("buy", "sell")[n // len(symbols) % 2]
        entry = INSTRUMENTS[symbol]
        direction = 1 if side == "buy" else -1
        signal, _ = ingest_signal(producer=producer, instrument=instruments[symbol], side=side, time=now,
                                  version=round_number * 1_000_000 + n + 1, entry_price=entry,
                                  stop_loss=entry - direction * STOP_DISTANCE,
                                  take_profit=entry + direction * TARGET_DISTANCE, expires_at=now + timedelta(hours=6))
        approvals.append(decide_signal(user=producer.owner, signal_id=str(signal.pk), decision="approved",
                                       consent_version=consent_version).pk)
    poll_commands(bridge=bridge)
    orders = list(Order.objects.filter(approval__in=approvals).select_related("instrument").order_by("created_at"))
    refused = [(order.status, order.reasons) for order in orders if order.status != Order.Status.SENT]
    if refused:
        raise RuntimeError(f"{len(refused)} orders not sent, e.g. {refused[:3]}")
    return orders


@dataclass(frozen=True)
class Trade:
    """A position opened and closed at the broker: of a platform order
    (`client_order_id`) or placed there by hand (None)."""

    client_order_id: str | None
    symbol: str
    side: str
    volume: Decimal
    entry: Decimal
    stop_loss: Decimal
    take_profit: Decimal


def trades_of(orders, *, positions: int) -> list[Trade]:
    """The orders' trades, and as many placed by hand as make `positions` in all."""
    trades = [Trade(order.client_order_id, order.instrument.symbol, order.side, order.volume, order.entry_price,
                    order.stop_loss, order.take_profit) for order in orders]
    symbols = sorted(INSTRUMENTS)
    for n in range(positions - len(trades)):
        symbol, side = symbols[n % len(symbols)], ("buy", "sell")[n // len(symbols) % 2]
        direction = 1 if side == "buy" else -1
        entry = INSTRUMENTS[symbol]
        trades.append(Trade(None, symbol, side, Decimal("0.50"), entry, entry - direction * STOP_DISTANCE,
                            entry + direction * TARGET_DISTANCE))
    return trades


def fills_of(trades, *, round_number) -> list[dict]:
    """Each trade's `in` fill and the `out` fill that closed its position
    (every other one at its stop loss, the rest at the take profit), as the
    bridge sends them: in time order, values as on the wire."""
    start = datetime.now(timezone.utc).replace(microsecond=0)
    fills = []
    for n, trade in enumerate(trades):
        position_ticket = f"{round_number}{n:06d}"
        opened_at = start + timedelta(seconds=n)
        close_price = trade.stop_loss if n % 2 else trade.take_profit
        direction = 1 if trade.side == "buy" else -1
        profit = direction * (close_price - trade.entry) * trade.volume * TICK_VALUE / TICK_SIZE
        commission = -(COMMISSION_PER_LOT * trade.volume).quantize(Decimal("0.01"))
        common = {"client_order_id": trade.client_order_id, "position_ticket": position_ticket,
                  "instrument": trade.symbol, "volume": str(trade.volume), "swap": "0.00"}
        fills.append({**common, "fill_id": f"{position_ticket}-in", "ticket": f"{position_ticket}1",
                      "side": trade.side, "entry": "in", "price": str(trade.entry), "time": iso(opened_at),
                      "commission": str(commission), "profit": "0.00"})
        fills.append({**common, "fill_id": f"{position_ticket}-out", "ticket": f"{position_ticket}2",
                      "side": "sell" if trade.side == "buy" else "buy", "entry": "out", "price": str(close_price),
                      "time": iso(opened_at + timedelta(minutes=30)), "commission": str(commission),
                      "profit": str(profit.quantize(Decimal("0.01")))})
    return sorted(fills, key=lambda fill: (fill["time"], fill["fill_id"]))


class Endpoint:
    """POST /api/v1/bridge/fills on the stack, signed as the bridge."""

    def __init__(self, stack, key_id, secret):
        self.connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
        self.key_id, self.secret = key_id, secret

    def post(self, fills) -> tuple[float, int, dict]:
        """(wall seconds, status, answer)."""
        body = json.dumps({"fills": fills}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   **sign(self.secret, int(time.time()), body, key_id=self.key_id, key_header=BRIDGE_KEY_HEADER)}
        return timed_post(self.connection, "/api/v1/bridge/fills", body, headers)


class Baseline:
    """The same fill rows stored by `Fill.objects.bulk_create` in one
    transaction, for the baseline's bridge."""

    def __init__(self, bridge):
        self.bridge = bridge

    def prepare(self, fills, orders) -> list[dict]:
        """The rows' values, parsed as the call's validation parses them, and
        a position per ticket for them to belong to (not timed)."""
        from execution.models import Position
        from signals.models import Instrument

        instruments = dict(Instrument.objects.filter(symbol__in=INSTRUMENTS).values_list("symbol", "pk"))
        order_ids = {order.client_order_id: order.pk for order in orders}
        order_ids[None] = None
        now = datetime.now(timezone.utc)
        positions = {}
        for fill in fills:
            if fill["entry"] == "in":
                positions[fill["position_ticket"]] = Position(
                    bridge=self.bridge, owner_id=self.bridge.owner_id, instrument_id=instruments[fill["instrument"]],
                    side=fill["side"], volume=Decimal(fill["volume"]), opened_volume=Decimal(fill["volume"]),
                    open_price=Decimal(fill["price"]), open_time=datetime.fromisoformat(fill["time"]),
                    origin=Position.Origin.EXTERNAL, ticket=fill["position_ticket"], created_at=now, updated_at=now)
        Position.objects.bulk_create(positions.values())
        return [{
            "fill_id": fill["fill_id"], "order_id": order_ids[fill["client_order_id"]],
            "position_id": positions[fill["position_ticket"]].pk, "client_order_id": fill["client_order_id"],
            "ticket": fill["ticket"], "position_ticket": fill["position_ticket"],
            "instrument_id": instruments[fill["instrument"]], "side": fill["side"], "entry": fill["entry"],
            "volume": Decimal(fill["volume"]), "price": Decimal(fill["price"]),
            "time": datetime.fromisoformat(fill["time"]), "commission": Decimal(fill["commission"]),
            "swap": Decimal(fill["swap"]), "profit": Decimal(fill["profit"]),
        } for fill in fills]

    def insert(self, rows) -> float:
        from django.db import transaction

        from execution.models import Fill

        started = time.perf_counter()
        with transaction.atomic():
            Fill.objects.bulk_create([Fill(bridge=self.bridge, **row) for row in rows])
        return time.perf_counter() - started


def outcome(stack, key_id) -> tuple[dict, object]:
    """What the calls left in the database, and the audit chain's verdict."""
    from execution.models import Fill, Order, Position

    orders = Order.objects.filter(bridge__key_id=key_id)
    positions = Position.objects.filter(bridge__key_id=key_id)
    facts = {
        "fills": Fill.objects.filter(bridge__key_id=key_id).count(),
        "positions": positions.count(), "closed": positions.filter(status=Position.Status.CLOSED).count(),
        "platform": positions.filter(origin=Position.Origin.PLATFORM).count(),
        "orders": orders.count(), "filled": orders.filter(status=Order.Status.FILLED).count(),
    }
    return facts, stack.manage("verify_audit", check=False)


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--rounds", type=int, default=10, help="measured rounds of each (default 10), after one "
                                                               "warm-up round")
    parser.add_argument("--per-call", type=int, default=1000, help="fills per call, an even number from 10 to 1000 "
                                                                   "(default 1000)")
    parser.add_argument("--audit-only", action="store_true",
                        help="diagnosis, never the figure: the audit log the only receiver of the call's batch "
                             "event (delivery's outbox and analytics' rollups disconnected, bench/fills_urls.py)")
    args = parser.parse_args(argv)
    if args.per_call % 2 or not 10 <= args.per_call <= 1000:
        parser.error("--per-call: an even number from 10 to 1000")
    calls, positions = args.rounds + 1, args.per_call // 2

    check = Checks()
    env = {**SERVER_ENV, **({"DJANGO_SETTINGS_MODULE": "bench.fills_settings"} if args.audit_only else {})}
    with Stack(database_url=scratch_database_url(), workers=1, env=env) as stack:
        # This process's Django (set up after the stack took its environment): the same database and Redis.
        os.environ.update(DATABASE_URL=stack.database_url, REDIS_URL=stack.env["REDIS_URL"])
        configure_in_process()
        import django

        django.setup()
        from bench.trading import OPEN_POSITIONS

        bridge, secret, producer, baseline_bridge, consent = create_accounts()
        endpoint, baseline = Endpoint(stack, bridge.key_id, secret), Baseline(baseline_bridge)
        platform = min(positions // 5, OPEN_POSITIONS)
        print(f"gunicorn {stack.workers} worker on {stack.base_url}; {args.rounds} rounds of {args.per_call} fills "
              f"after a warm-up round: {positions} positions opened and closed, {platform} of them by platform "
              f"orders, {positions - platform} by hand at the broker")
        endpoint_seconds, baseline_seconds, bad_answers = [], [], []
        for round_number in range(calls):
            orders = make_orders(bridge=bridge, producer=producer, consent_version=consent, count=platform,
                                 round_number=round_number)
            fills = fills_of(trades_of(orders, positions=positions), round_number=round_number)
            rows = baseline.prepare(fills, orders)
            timings = {}
            for side in (("endpoint", "baseline") if round_number % 2 else ("baseline", "endpoint")):
                if side == "baseline":
                    timings[side] = baseline.insert(rows)
                else:
                    timings[side], status, answer = endpoint.post(fills)
                    if status != 200 or answer != {"inserted": len(fills), "duplicates": 0}:
                        bad_answers.append((status, answer))
            label = "warm-up" if round_number == 0 else f"round {round_number}"
            print(f"  {label:<8}  endpoint {timings['endpoint'] * 1000:8.1f} ms   baseline "
                  f"{timings['baseline'] * 1000:7.1f} ms")
            if round_number:
                endpoint_seconds.append(timings["endpoint"])
                baseline_seconds.append(timings["baseline"])

        endpoint_median, baseline_median = statistics.median(endpoint_seconds), statistics.median(baseline_seconds)
        print(f"endpoint: median {endpoint_median * 1000:.1f} ms per call, {args.per_call / endpoint_median:.0f} "
              f"fills/s; baseline: median {baseline_median * 1000:.1f} ms, "
              f"{args.per_call / baseline_median:.0f} rows/s")
        check.ratio("endpoint fills/s / baseline rows/s", baseline_median / endpoint_median, at_least=0.5)
        check(not bad_answers, f"every call 200 with all its fills inserted ({bad_answers[:3] or 'yes'})")
        facts, verify = outcome(stack, bridge.key_id)
        expected_fills = calls * args.per_call
        check(facts["fills"] == expected_fills, f"{facts['fills']} fills stored (expected {expected_fills})")
        check(facts["positions"] == facts["closed"] == calls * positions and facts["platform"] == calls * platform,
              f"{facts['positions']} positions, {facts['closed']} closed, {facts['platform']} of platform orders "
              f"(expected {calls * positions}, {calls * positions}, {calls * platform})")
        check(facts["orders"] == facts["filled"] == calls * platform,
              f"{facts['filled']} of {facts['orders']} orders filled")
        check(verify.returncode == 0, "manage.py verify_audit: " + (verify.stdout or verify.stderr).strip()
              .replace("\n", " | "))
    return check.status()
