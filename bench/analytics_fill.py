"""The rollups' cost on the fills path: the bridge's fills call opening and closing a strategy's position, with the analytics receivers connected vs disconnected; target: <= 1.3x.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench analytics_fill [--rounds 40]

In-process, on PostgreSQL, in a database of its own created and dropped
around the run with Django's test-database utilities (`test_<name>` of
DATABASE_URL), never in the database DATABASE_URL names.

One account trading a strategy: before each measured call (not timed) the
bridge sends a fresh account snapshot, the producer publishes a signal, the
owner approves it, the bridge polls and acknowledges the order. The measured
call is the bridge's `POST /api/v1/bridge/fills`, signed with its secret,
through Django's test client (in this process: the whole stack but the
socket), with the order's in fill and its out fill (the position opened and
closed, commission and profit): the signature, the fills, the position, the
order's move to filled, the audit entries, the push events; with the
receivers connected also the rollups of the day (the account's and the
strategy's, overall and on the instrument) and the check for late fills. The
two variants alternate, each round in the other order than the last.
Figures: medians of the wall times after one warm-up round (and of the
service `record_fills` inside it, for scale); the target is on the ratio of
the calls.
"""

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal

from bench.harness import Checks, argument_parser, in_process_on_postgres
from bench.mix import iso
from tradeplatform_client import BRIDGE_KEY_HEADER, sign

SMOKE = ["--rounds", "3"]
D = Decimal


class Desk:
    """An account whose owner approves their own strategy's signals."""

    def __init__(self):
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from approvals.models import ConsentText
        from bench.trading import allow_busy_trading
        from execution.services import create_bridge, upsert_symbols
        from signals.models import Instrument
        from signals.services import create_producer

        ConsentText.objects.get_or_create(version="1", defaults={"text": "Bench consent.",
                                                                 "published_at": timezone.now()})
        self.owner = get_user_model().objects.create_user("bench-trader", password="bench-pass-0123456789")
        self.bridge, self.secret = create_bridge(name="bench-mt5", owner=self.owner, account_ref="bench")
        allow_busy_trading(user=self.owner, symbols=["EURUSD"])
        upsert_symbols(bridge=self.bridge, symbols=[{
            "instrument": "EURUSD", "tick_size": D("0.00001"), "tick_value": D("1"), "volume_min": D("0.01"),
            "volume_step": D("0.01"), "volume_max": D("100")}])
        self.producer, _ = create_producer(name="bench-engine", owner=self.owner)
        self.eurusd = Instrument.objects.get(symbol="EURUSD")
        self.count = 0

    def next_order(self):
        """A fresh snapshot, a signal, its approval, the order polled and
        accepted: ready for its fills."""
        from django.utils import timezone

        from approvals.services import decide_signal
        from execution.models import Command
        from execution.services import acknowledge_command, poll_commands, record_account_snapshot
        from signals.services import ingest_signal

        self.count += 1
        now = timezone.now()
        # As a bridge reports: the account first, the fills that come after it later.
        record_account_snapshot(bridge=self.bridge, time=now - timedelta(seconds=2), currency="USD",
                                balance=D("100000"), equity=D("100000"), margin_free=D("100000"), positions=[])
        signal, _ = ingest_signal(producer=self.producer, instrument=self.eurusd, side="buy", time=now,
                                  version=self.count, entry_price=D("1.08450"), stop_loss=D("1.08100"))
        approval = decide_signal(user=self.owner, signal_id=str(signal.pk), decision="approved", consent_version="1")
        order = approval.order
        if order.status != order.Status.PENDING:
            sys.exit(f"the bench's order was {order.status}: {order.reasons}")
        command = next(c for c in poll_commands(bridge=self.bridge) if c.type == Command.Type.OPEN)
        acknowledge_command(bridge=self.bridge, command_id=command.pk, status="accepted",
                            broker_ticket=f"b-{self.count}")
        return approval.order

    def fills_call(self, order):
        """The signed request of the order's two fills, as the bridge sends it."""
        from django.utils import timezone

        now = timezone.now()
        common = {"client_order_id": order.client_order_id, "position_ticket": f"p-{self.count}",
                  "instrument": "EURUSD", "volume": str(order.volume), "swap": "0.00"}
        fills = [
            {**common, "fill_id": f"in-{self.count}", "ticket": f"o-{self.count}", "side": "buy", "entry": "in",
             "price": "1.08450", "time": iso(now - timedelta(seconds=1)), "commission": "-1.75", "profit": "0.00"},
            {**common, "fill_id": f"out-{self.count}", "ticket": f"c-{self.count}", "side": "sell", "entry": "out",
             "price": "1.08550", "time": iso(now), "commission": "-1.75", "profit": f"{5 + self.count % 7}.00"},
        ]
        body = json.dumps({"fills": fills}, separators=(",", ":")).encode()
        headers = sign(self.secret, int(time.time()), body, key_id=self.bridge.key_id, key_header=BRIDGE_KEY_HEADER)
        return body, {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}


def measure(rounds: int) -> tuple[dict, dict, int]:
    from unittest import mock

    from django.test import Client

    from analytics import receivers
    from execution import services

    desk, client = Desk(), Client()
    calls, inner, cpus = {"with": [], "without": []}, {"with": [], "without": []}, {"with": [], "without": []}
    record_fills = services.record_fills

    def timed_service(**kwargs):
        began = time.perf_counter()
        try:
            return record_fills(**kwargs)
        finally:
            service_seconds.append(time.perf_counter() - began)

    for round_number in range(rounds + 1):
        for variant in ("with", "without") if round_number % 2 else ("without", "with"):
            body, headers = desk.fills_call(desk.next_order())
            service_seconds = []
            if variant == "without":
                receivers.disconnect()
            with mock.patch.object(services, "record_fills", timed_service):
                began, cpu = time.perf_counter(), time.process_time()
                response = client.post("/api/v1/bridge/fills", body, content_type="application/json", **headers)
                elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
            if variant == "without":
                receivers.connect()
            if response.status_code != 200 or response.json() != {"inserted": 2, "duplicates": 0}:
                sys.exit(f"the fills call answered {response.status_code}: {response.content[:300]!r}")
            if round_number:  # the first is the warm-up
                calls[variant].append(elapsed)
                cpus[variant].append(cpu)
                inner[variant].append(service_seconds[0])
    from analytics.models import DailyRollup

    strategy_trades = sum(DailyRollup.objects.filter(producer=desk.producer, instrument__isnull=True)
                          .values_list("trades", flat=True))
    return calls, inner, cpus, strategy_trades


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds (default 40), after one warm-up")
    args = parser.parse_args(argv)
    check = Checks()
    with in_process_on_postgres(THROTTLE_BRIDGE="1000000/min") as connection:
        print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version}); "
              f"{args.rounds} rounds after a warm-up round, medians")
        calls, inner, cpus, strategy_trades = measure(args.rounds)
        on, off = statistics.median(calls["with"]), statistics.median(calls["without"])
        print(f"  fills call (in + out, position closed): without rollups {off * 1000:.1f} ms, "
              f"with {on * 1000:.1f} ms")
        cpu_without, cpu_with = statistics.median(cpus["without"]), statistics.median(cpus["with"])
        print(f"  CPU of this process (the server's not counted): without {cpu_without * 1000:.1f} ms, "
              f"with {cpu_with * 1000:.1f} ms")
        print(f"  of which record_fills: without {statistics.median(inner['without']) * 1000:.1f} ms, "
              f"with {statistics.median(inner['with']) * 1000:.1f} ms")
        check(strategy_trades == args.rounds + 1, f"the strategy's rollups counted every position closed with "
                                                  f"the receivers connected ({strategy_trades})")
        check.ratio("with/without rollups:", on / off, at_most=1.3)
        print(f"  load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    return check.status()
