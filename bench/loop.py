"""The whole loop, signal to closed position, the paper bridge SIGKILLed twice: N orders, N positions, no loss.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench loop [--signals 1000]

The production stack (bench/harness.py `Stack`: a scratch PostgreSQL
database, a private redis-server, gunicorn with 4 workers) and, beside it,
the paper bridge (`manage.py paper_bridge`, a process of its own speaking
the bridge API over HTTP, filling at the stored candles' last price) for the
trader's account:

1. Set-up: a trader, a producer (`create_producer`) and a bridge
   (`create_bridge`); the trader's risk policy allows the most open
   positions it can (100) and no cooldown, and the instruments trade around
   the clock (so the run does not depend on the weekday: bench/trading.py);
   the producer posts the last hour of flat M1 candles of the four
   instruments traded; the bridge starts and sends its symbol specs and a
   first account snapshot (equity 10,000), which sizing needs.
2. One producer thread posts --signals signed signals (each with a stop loss
   and a take profit, four instruments, both sides). Two trader threads,
   signed in with a JWT, approve each signal the producer was answered 201
   for; each approval creates the order, sized at 1% of equity, in its own
   transaction. The bridge polls, fills each order (ack `accepted`, one
   fill, ack `executed`) and reports. A third thread, the same trader in
   another session, lists the open positions and closes each one
   (`POST /api/v1/positions/{id}/close/`), which the bridge carries out the
   same way. The traders hold at most 100 signals between approval and
   closed position, so the account never has more positions open or on
   their way than the policy allows, and no order is denied.
3. When the platform has stored a third of the fills (opening and closing),
   the bridge is SIGKILLed and started again on the same --state-file; again
   at two thirds. It resends whatever the platform had not confirmed.
4. When every position is closed and the bridge has nothing left to
   report, it is stopped (SIGTERM) and the database is checked.

Prints the phases' durations and the approval -> fill latency (from each
order's created_at, in its approval's transaction, to its opening fill's
created_at: the bridge's poll interval, its queue and the restarts
included), p50/p99/max, and the same for close request -> closing fill.
Checks: every signal one order and one position (exactly --signals of each,
one opening and one closing fill per order, no order twice among the
positions), every order filled with its whole volume, every position closed
by the user, every command acknowledged `executed`, one audit entry per
order created, position opened and position closed, `manage.py
verify_audit`, the bridge killed twice, and no 5xx: the server's access log
(every request of every client, the bridge's included), the clients'
answers and the bridge's retries.
"""

import json
import queue
import re
import signal as signals
import statistics
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from bench.harness import BASE_DIR, PYTHON, Checks, Stack, argument_parser, scratch_database_url
from bench.mix import DIGITS, INSTRUMENTS, PRICES, SERVER_ENV, Client, iso
from tradeplatform_client import sign

SMOKE = ["--signals", "30", "--timeout", "300"]

USERNAME, PASSWORD = "loop-trader", "loop-password-0123456789"
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception): ")
UUID_IN_PATH = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Every request's status in the access log (INFO); no throttle within reach:
# the run checks the loop, not the limits.
LOOP_SERVER_ENV = {**SERVER_ENV, "LOG_LEVEL": "INFO", "THROTTLE_BRIDGE": "1000000/min"}


def percentile(ordered, fraction):
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def metric_total(stack, name: str) -> float:
    """Counter `name` in /metrics, summed over its label sets and the workers."""
    _, text = stack.get("/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.decode().splitlines()
               if line.startswith((name + " ", name + "{")))


class PaperBridge:
    """`manage.py paper_bridge` for the trader's bridge, its state and log in
    the stack's scratch directory (kept across restarts)."""

    def __init__(self, stack, *, key_id, secret, interval):
        self.state_file, self.log_file = stack.tmp / "paper-bridge.json", stack.tmp / "paper-bridge.log"
        self.command = [PYTHON, "manage.py", "paper_bridge", "--base-url", stack.base_url, "--key-id", key_id,
                        "--state-file", str(self.state_file),
                        "--control-file", str(stack.tmp / "paper-bridge.control.jsonl"),
                        "--interval", str(interval), "--price-source", "candles"]
        self.env = {**stack.env, "PAPER_BRIDGE_SECRET": secret, "LOG_LEVEL": "INFO"}
        self.process = None

    def start(self):
        with open(self.log_file, "a") as log:
            self.process = subprocess.Popen(self.command, cwd=BASE_DIR, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def kill(self):
        self.process.send_signal(signals.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def unconfirmed_reports(self) -> int | None:
        """The reports in the saved outbox; None before the first save."""
        try:
            return len(json.loads(self.state_file.read_text())["outbox"])
        except (FileNotFoundError, ValueError):
            return None

    def log_messages(self) -> list[str]:
        messages = []
        for line in self.log_file.read_text().splitlines():
            try:
                messages.append(json.loads(line)["message"])
            except (ValueError, KeyError, TypeError):
                messages.append(line)  # not the JSON log: a traceback, say
        return messages


SET_UP = """
from django.contrib.auth import get_user_model
from bench.trading import OPEN_POSITIONS, allow_busy_trading
trader = get_user_model().objects.create_user(payload["username"], password=payload["password"])
allow_busy_trading(user=trader, symbols=payload["instruments"])
print(json.dumps(OPEN_POSITIONS))
"""


def set_up(stack) -> dict:
    """The trader (and their risk policy), their producer and bridge (by the
    operators' commands)."""
    open_positions = stack.django(SET_UP, {"username": USERNAME, "password": PASSWORD, "instruments": INSTRUMENTS})
    producer = json.loads(stack.manage("create_producer", "loop-engine", "--owner", USERNAME, "--json").stdout)
    bridge = json.loads(stack.manage("create_bridge", "loop-bridge", "--owner", USERNAME, "--account-ref",
                                     "paper-loop", "--json").stdout)
    return {"producer": producer, "bridge": bridge, "open_positions": open_positions}


def signed_post(client, op, path, payload, producer):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json",
               **sign(producer["secret"], int(time.time()), body, key_id=producer["key_id"])}
    return client.request(op, "POST", path, body, headers)


def post_candles(stack, producer) -> list[int]:
    """The last hour of flat M1 bars at each instrument's price: the paper
    broker fills at the last close, no bar ever reaches a stop, and every
    position closes at its open price (no loss, so no cooldown)."""
    client, statuses = Client(stack.port), []
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    for instrument in INSTRUMENTS:
        price = f"{PRICES[instrument]:.{DIGITS[instrument]}f}"
        candles = [{"time": iso(now - timedelta(minutes=59 - n)), "open": price, "high": price, "low": price,
                    "close": price, "volume": "100"} for n in range(60)]
        record, _, _ = signed_post(client, "candles", "/api/v1/candles/",
                                   {"instrument": instrument, "timeframe": "M1", "candles": candles}, producer)
        statuses.append(record.status)
    return statuses


class Traffic:
    """The producer, the traders and the closer, and every answer they got."""

    def __init__(self, stack, producer, signals_to_send, *, open_positions):
        self.stack, self.producer, self.count = stack, producer, signals_to_send
        self.to_approve = queue.Queue()
        # Signals approved whose position is not closed yet: never more than the policy allows.
        self.slots = threading.BoundedSemaphore(open_positions)
        self.stop = threading.Event()
        self.records, self.lock = [], threading.Lock()
        self.signals_created, self.approvals_created, self.closed = [], [], []
        self.finished = {}

    def add(self, record):
        with self.lock:
            self.records.append(record)

    def note(self, facts: list, value):
        with self.lock:
            facts.append(value)

    def produce(self):
        client = Client(self.stack.port)
        for n in range(self.count):
            instrument, side = INSTRUMENTS[n % len(INSTRUMENTS)], ("buy", "sell")[n // len(INSTRUMENTS) % 2]
            price, digits = PRICES[instrument], DIGITS[instrument]
            step = price * 0.003 * (1 if side == "buy" else -1)
            now = datetime.now(timezone.utc)
            payload = {
                "instrument": instrument, "side": side, "time": iso(now), "version": n + 1,
                "entry_price": f"{price:.{digits}f}", "stop_loss": f"{price - step:.{digits}f}",
                "take_profit": f"{price + 2 * step:.{digits}f}", "expires_at": iso(now + timedelta(hours=2)),
                "payload": {"strategy": "loop"},
            }
            # The same content again after a 503 (the dedup key makes that safe).
            record, content, _ = self.retrying(
                lambda: signed_post(client, "signal create", "/api/v1/signals/", payload, self.producer))
            if record.status == 201:
                self.note(self.signals_created, json.loads(content)["id"])
                self.to_approve.put(json.loads(content)["id"])
        self.finished["signals"] = time.monotonic()
        self.to_approve.put(None)

    def approve(self):
        client = Client(self.stack.port)
        auth = self.sign_in(client)
        record, content, _ = client.request("consent", "GET", "/api/v1/consent/current/", headers=auth)
        self.add(record)
        consent = json.loads(content)["version"]
        while (signal_id := self.to_approve.get()) is not None:
            while not self.slots.acquire(timeout=1):
                if self.stop.is_set():
                    return
            body = json.dumps({"signal": signal_id, "decision": "approved", "consent_version": consent,
                               "reason": "loop benchmark"}).encode()
            record, content, auth = self.as_trader(client, auth, "approval create", "POST", "/api/v1/approvals/",
                                                   body)
            if record.status == 201:
                self.note(self.approvals_created, json.loads(content)["id"])
            else:
                self.slots.release()  # no order, no position to wait for
        self.to_approve.put(None)  # for the other trader
        self.finished["approvals"] = time.monotonic()

    def close_positions(self):
        """Closes every open position of the trader's; a position asked to
        close that is no longer listed as open is closed: its slot is free."""
        client = Client(self.stack.port)
        auth, asked = self.sign_in(client), set()
        while not self.stop.is_set():
            record, content, auth = self.as_trader(client, auth, "positions list", "GET",
                                                   "/api/v1/positions/?status=open&page_size=200")
            listed = {position["id"] for position in json.loads(content)["results"]} if record.status == 200 else None
            if listed is None:
                time.sleep(0.5)
                continue
            for position_id in asked - listed:
                asked.discard(position_id)
                self.note(self.closed, position_id)
                self.slots.release()
            for position_id in sorted(listed - asked):
                record, _, auth = self.as_trader(client, auth, "position close", "POST",
                                                 f"/api/v1/positions/{position_id}/close/", b"")
                if record.status in (202, 409):  # 409: closed meanwhile
                    asked.add(position_id)
            approving = any(thread.is_alive() for thread in self.threads[:3])  # the producer and the traders
            if not approving and not asked and len(self.closed) >= len(self.approvals_created):
                break
            time.sleep(0.2)
        self.finished["closes"] = time.monotonic()

    def sign_in(self, client) -> dict:
        record, content, _ = client.request("sign in", "POST", "/api/v1/auth/token/", json.dumps(
            {"username": USERNAME, "password": PASSWORD}).encode(), {"Content-Type": "application/json"})
        self.add(record)
        return {"Authorization": f"Bearer {json.loads(content)['access']}"}

    def as_trader(self, client, auth, op, method, path, body=None):
        """The request with the trader's token, signed in again once if it
        expired, sent again after a 503; (record, content, the token's
        headers)."""
        for _ in range(2):
            record, content, _ = self.retrying(lambda: client.request(
                op, method, path, body, {**auth, **({"Content-Type": "application/json"} if body else {})}))
            if record.status != 401:
                break
            auth = self.sign_in(client)
        return record, content, auth

    def retrying(self, send, attempts=5):
        """`send()` again, a second later, while the answer is a 503 or
        none, as a client that respects Retry-After does; every answer is
        recorded."""
        for _ in range(attempts):
            record, content, headers = send()
            self.add(record)
            if record.status not in (0, 503):
                break
            time.sleep(1)
        return record, content, headers

    def start(self):
        self.threads = [threading.Thread(target=self.produce, daemon=True),
                        threading.Thread(target=self.approve, daemon=True),
                        threading.Thread(target=self.approve, daemon=True),
                        threading.Thread(target=self.close_positions, daemon=True)]
        for thread in self.threads:
            thread.start()

    def done(self) -> bool:
        return not any(thread.is_alive() for thread in self.threads)

    def join(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


FACTS = """
from collections import Counter
from django.db.models import F, Min, Q
from approvals.models import Approval
from audit.models import AuditEntry
from execution.models import Command, Fill, Order, Position
from signals.models import Signal
orders = Order.objects.annotate(opened=Min("fills__created_at", filter=Q(fills__entry="in")))
positions = Position.objects.all()
fills = Counter(Fill.objects.values_list("order_id", "entry"))
closing_fills = dict(Fill.objects.filter(entry="out").values_list("position_id", "created_at"))
print(json.dumps({
    "signals": Signal.objects.count(),
    "approvals": Counter(Approval.objects.values_list("decision", flat=True)),
    "orders": Counter(orders.values_list("status", flat=True)),
    "orders_whole_volume_filled": orders.filter(filled_volume=F("volume")).count(),
    "fills": Fill.objects.count(),
    "fills_per_order": Counter(f"{entry} x{count}" for (order, entry), count in fills.items() if order is not None),
    "fills_of_no_order": sum(count for (order, _), count in fills.items() if order is None),
    "positions": positions.count(), "positions_orders": positions.values("order").distinct().count(),
    "positions_origin": Counter(positions.values_list("origin", flat=True)),
    "positions_status": Counter(f"{status}:{reason}" for status, reason in positions.values_list("status",
                                                                                                  "close_reason")),
    "positions_order_volume": positions.filter(opened_volume=F("order__volume")).count(),
    "commands": Counter(f"{kind}:{status}" for kind, status in Command.objects.values_list("type", "status")),
    "audit": Counter(AuditEntry.objects.filter(action__in=["order.create", "position.open", "position.close"])
                     .values_list("action", flat=True)),
    "fill_latencies": sorted((order.opened - order.created_at).total_seconds() for order in orders
                             if order.opened is not None),
    "close_latencies": sorted((closing_fills[position_id] - created_at).total_seconds()
                              for position_id, created_at in Command.objects.filter(type="close")
                              .values_list("position_id", "created_at") if position_id in closing_fills),
}))
"""


def server_log(stack) -> tuple[Counter, Counter]:
    """From the server's log: (path, status) of every request (ids in paths
    as `{id}`), and the errors logged with a traceback, by their last line."""
    statuses, errors = Counter(), Counter()
    for line in (stack.tmp / "gunicorn.out").read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if "status" in entry and "path" in entry:
            statuses[(UUID_IN_PATH.sub("/{id}", entry["path"].rstrip("/")), entry["status"])] += 1
        if "traceback" in entry:
            errors[error_of(entry["traceback"])] += 1
    return statuses, errors


def error_of(traceback: str) -> str:
    """A traceback's last exception, and PostgreSQL's context when it gave
    one (which table's row it was waiting for)."""
    lines = traceback.splitlines()
    exception = next((line for line in reversed(lines) if EXCEPTION_LINE.match(line)), lines[-1])
    context = next((line for line in reversed(lines) if line.startswith("CONTEXT:")), "")
    return " ".join(f"{exception} {re.sub(r'tuple [(][0-9,]+[)] ', '', context)}".split())


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--signals", type=int, default=1000, help="signals posted and approved (default 1000)")
    parser.add_argument("--interval", type=float, default=1.0, help="the bridge's seconds between polls (its "
                                                                    "default: 1)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for every position to close "
                                                                    "(default 1800)")
    args = parser.parse_args(argv)
    n = args.signals

    check = Checks()
    with Stack(database_url=scratch_database_url(), env=LOOP_SERVER_ENV) as stack:
        actors = set_up(stack)
        candle_statuses = post_candles(stack, actors["producer"])
        check(candle_statuses == [200] * len(INSTRUMENTS), f"candles stored: {candle_statuses}")
        bridge = PaperBridge(stack, key_id=actors["bridge"]["key_id"], secret=actors["bridge"]["secret"],
                             interval=args.interval)
        traffic = Traffic(stack, actors["producer"], n, open_positions=actors["open_positions"])
        try:
            bridge.start()
            check(wait_until_ready(stack, actors["bridge"]["key_id"]),
                  "the bridge sent its symbol specs and an account snapshot")
            print(f"gunicorn {stack.workers} workers on {stack.base_url}; {n} signals, 1 producer, 2 traders "
                  f"approving, 1 closing; paper bridge polling every {args.interval:g} s")
            started = time.monotonic()
            traffic.start()
            kills, done = run_with_kills(stack, bridge, n, traffic, timeout=args.timeout, started=started)
            finished = time.monotonic()
        finally:
            traffic.join()
            bridge.stop()
        facts = stack.django(FACTS, None)
        statuses, server_errors_logged = server_log(stack)
        verify = stack.manage("verify_audit", check=False)
        fill_seconds_count = metric_total(stack, "order_fill_seconds_count")
        messages = bridge.log_messages()

    report(traffic, facts, statuses, messages, kills, started=started, finished=finished)
    print("checks:")
    check(done, f"every position closed and nothing left to report within {args.timeout:g} s")
    check(len(kills) == 2, f"the bridge SIGKILLed and restarted twice (at {[round(k, 1) for k in kills]} s)")
    check(len(traffic.signals_created) == facts["signals"] == n,
          f"{len(traffic.signals_created)} signal 201s, {facts['signals']} signals stored (expected {n})")
    check(len(traffic.approvals_created) == facts["approvals"].get("approved") == n,
          f"{len(traffic.approvals_created)} approval 201s, {facts['approvals']} stored")
    check(facts["orders"] == {"filled": n}, f"orders by status: {facts['orders']} (expected {n} filled)")
    check(facts["orders_whole_volume_filled"] == n,
          f"{facts['orders_whole_volume_filled']} orders filled with their whole volume")
    check(facts["fills"] == 2 * n and facts["fills_per_order"] == {"in x1": n, "out x1": n}
          and not facts["fills_of_no_order"],
          f"{facts['fills']} fills; orders by their fills: {facts['fills_per_order']}")
    check(facts["positions"] == facts["positions_orders"] == facts["positions_origin"].get("platform") == n,
          f"{facts['positions']} positions of {facts['positions_orders']} distinct orders, "
          f"origin {facts['positions_origin']}")
    check(facts["positions_status"] == {"closed:user": n} and facts["positions_order_volume"] == n,
          f"positions by status: {facts['positions_status']}; {facts['positions_order_volume']} opened with "
          f"their order's volume")
    check(facts["commands"] == {"open:executed": n, "close:executed": n}, f"commands: {facts['commands']}")
    check(facts["audit"] == {"order.create": n, "position.open": n, "position.close": n},
          f"audit entries: {facts['audit']}")
    check(verify.returncode == 0, "manage.py verify_audit: " + (verify.stdout or verify.stderr).strip()
          .replace("\n", " | "))
    check(fill_seconds_count == n, f"order_fill_seconds observed {fill_seconds_count:.0f} first fills")
    server_errors = {f"{path} {status}": count for (path, status), count in statuses.items() if status >= 500}
    client_errors = Counter(r.status for r in traffic.records if r.status >= 500 or r.status == 0)
    retries = [message for message in messages if message.startswith("call.retry")]
    refused = [message for message in messages if ".refused" in message.split(" ", 1)[0]]
    check(not server_errors and not client_errors,
          f"no 5xx: access log {server_errors or 'none'}, producer and traders {dict(client_errors) or 'none'}")
    check(not refused, f"the bridge had no report refused ({refused[:3] or 'none'})")
    print(f"  the bridge's retries (connection refused or reset, 429, 5xx): {len(retries)} {retries[:3]}")
    for error, count in server_errors_logged.most_common():
        print(f"  server log: {count} x {error}")
    return check.status()


def wait_until_ready(stack, key_id, timeout=60) -> bool:
    code = """
from execution.models import Bridge, Symbol
bridge = Bridge.objects.get(key_id=payload)
print(json.dumps(Symbol.objects.filter(bridge=bridge).count() > 0 and bridge.last_snapshot_at is not None))
"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.django(code, key_id):
            return True
        time.sleep(1)
    return False


def run_with_kills(stack, bridge, n, traffic, *, timeout, started) -> tuple[list[float], bool]:
    """SIGKILLs the bridge and starts it again when the platform has stored
    a third and two thirds of the 2n fills (opening and closing); returns
    when the traffic is over (every position it opened closed) and the
    bridge has nothing left to report (True), or at the timeout (False),
    with the seconds since `started` of each kill."""
    thresholds, kills = [2 * n // 3, 4 * n // 3], []
    while time.monotonic() - started < timeout:
        stored = metric_total(stack, "fills_total")
        if thresholds and stored >= thresholds[0]:
            bridge.kill()
            kills.append(time.monotonic() - started)
            thresholds.pop(0)
            print(f"  {kills[-1]:6.1f} s  {stored:.0f} fills stored: bridge SIGKILLed, started again")
            bridge.start()
        elif traffic.done() and bridge.unconfirmed_reports() == 0:
            return kills, True
        time.sleep(1)
    return kills, False


def report(traffic, facts, statuses, messages, kills, *, started, finished):
    for name, what in (("signals", "signals posted"), ("approvals", "signals approved"),
                       ("closes", "positions closed")):
        if name in traffic.finished:
            print(f"{what}: the last at {traffic.finished[name] - started:.1f} s")
    elapsed = finished - started
    print(f"everything reported and confirmed at {elapsed:.1f} s: {facts['positions']} positions opened and "
          f"closed, {facts['fills'] / elapsed:.1f} fills/s end to end")
    by_op = Counter((r.op, r.status) for r in traffic.records)
    print("clients:", ", ".join(f"{op} {status}: {count}" for (op, status), count in sorted(by_op.items())))
    bridge_calls = Counter()
    for (path, status), count in statuses.items():
        if path.startswith("/api/v1/bridge/"):
            bridge_calls[f"{path.rsplit('/', 1)[1]} {status}"] += count
    print("bridge calls in the access log:", ", ".join(f"{k}: {v}" for k, v in sorted(bridge_calls.items())))
    duplicates = 0
    for message in messages:
        if message.startswith("fills.sent") and " answer=" in message:
            duplicates += json.loads(json.loads(message.split(" answer=", 1)[1])).get("duplicates", 0)
    starts = sum(message.startswith("bridge.start") for message in messages)
    print(f"bridge: {starts} starts, {len(kills)} SIGKILLs; fills sent again after a restart and answered as "
          f"duplicates: {duplicates}")
    for name, label in (("fill_latencies", "approval -> opening fill"), ("close_latencies",
                                                                          "close request -> closing fill")):
        latencies = facts[name]
        if latencies:
            print(f"{label} over {len(latencies)}: p50 {percentile(latencies, 0.5):.2f} s, "
                  f"p99 {percentile(latencies, 0.99):.2f} s, max {latencies[-1]:.2f} s, "
                  f"mean {statistics.fmean(latencies):.2f} s")
