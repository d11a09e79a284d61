"""The realistic load mix, driven over real HTTP against a `Stack` (one
thread per simulated client), and the checks afterwards.

Producers post signed signals (and sometimes replay one byte for byte, as a
client retrying after a timeout does) and candles; traders list their
pending signals and decide; viewers fetch signal charts by their signed
link. Every answer is recorded; `verify()` then checks the database against
what the clients were told.
"""

import http.client
import json
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from bench.harness import Checks
from tradeplatform_client import sign

INSTRUMENTS = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
PRICES = {"EURUSD": 1.08450, "GBPUSD": 1.26500, "USDJPY": 151.250, "XAUUSD": 2650.00}
DIGITS = {"EURUSD": 5, "GBPUSD": 5, "USDJPY": 3, "XAUUSD": 2}

# The server's environment under the mix: no log line per request, and
# budgets out of reach, because the mix measures the service, not the limits
# (tests/security covers those): a handful of producers sending flat out
# would otherwise be throttled.
SERVER_ENV = {"LOG_LEVEL": "WARNING", "THROTTLE_USER": "1000000/min", "THROTTLE_PRODUCER": "1000000/min",
              "THROTTLE_DECISION": "1000000/min", "THROTTLE_ANON": "1000000/min"}


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_actors(stack, *, traders: int, producers_per_trader: int):
    """Traders (with tokens) and their producers (with secrets), made in the stack's database."""
    return stack.django("""
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken
from signals.services import create_producer
actors = []
for t in range(payload["traders"]):
    user = get_user_model().objects.create_user(f"trader{t}", f"trader{t}@example.com", "load-password-123")
    producers = []
    for p in range(payload["per"]):
        producer, secret = create_producer(name=f"engine-{t}-{p}", owner=user)
        producers.append({"key_id": producer.key_id, "secret": secret, "name": producer.name})
    actors.append({"username": user.username, "token": str(AccessToken.for_user(user)), "producers": producers})
print(json.dumps(actors))
""", {"traders": traders, "per": producers_per_trader})


@dataclass
class Record:
    op: str
    status: int  # 0: no answer (connection refused or reset)
    seconds: float
    at: float
    problem: bool = False  # a problem+json body, and for 429/503 a Retry-After header


@dataclass
class Ledger:
    """Everything the clients were told, for the checks afterwards."""

    records: list = field(default_factory=list)
    # Ids confirmed to their producer: 201, or 200 for a retry of a request that got no answer.
    signals_created: list = field(default_factory=list)
    signals_replayed: list = field(default_factory=list)  # ids answered 200 Idempotent-Replayed
    approvals_created: list = field(default_factory=list)  # (approval id, signal id, decision)
    # Decisions whose request got no answer (a worker died): each may or may not have committed.
    decisions_unanswered: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record, **facts):
        with self.lock:
            self.records.append(record)
        self.add_fact(**facts)

    def add_fact(self, **facts):
        with self.lock:
            for name, value in facts.items():
                getattr(self, name).append(value)


class Client:
    """One keep-alive HTTP connection, reopened after an error."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, op, method, path, body=None, headers=None):
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
            content = response.read()
            status, response_headers = response.status, dict(response.getheaders())
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            status, content, response_headers = 0, b"", {}
        content_type = response_headers.get("Content-Type", "")
        problem = content_type.startswith("application/problem+json") and (
            status not in (429, 503) or "Retry-After" in response_headers)
        return Record(op, status, time.perf_counter() - started, time.time(), problem), content, response_headers


class Workload:
    """The realistic mix. `run(seconds)` blocks; `stop_event` ends it early."""

    def __init__(self, stack, *, traders, producers_per_trader, trader_threads=2, viewers=2):
        self.stack = stack
        self.actors = create_actors(stack, traders=traders, producers_per_trader=producers_per_trader)
        self.ledger = Ledger()
        self.stop_event = threading.Event()
        self.trader_threads, self.viewers = trader_threads, viewers
        self.chart_urls = []
        self.chart_lock = threading.Lock()

    def run(self, seconds):
        threads = []
        for actor in self.actors:
            for producer in actor["producers"]:
                threads.append(threading.Thread(target=self._producer, args=(producer,), daemon=True))
            for _ in range(self.trader_threads):
                threads.append(threading.Thread(target=self._trader, args=(actor,), daemon=True))
        for _ in range(self.viewers):
            threads.append(threading.Thread(target=self._viewer, daemon=True))
        self.started = time.time()
        for thread in threads:
            thread.start()
        self.stop_event.wait(seconds)
        self.stop_event.set()
        for thread in threads:
            thread.join(60)
        return time.time() - self.started

    def start(self, seconds):
        """Runs the mix in the background (for the fault runs); `join()` waits for it."""
        self.started = time.time()
        self._elapsed = []
        self._runner = threading.Thread(target=lambda: self._elapsed.append(self.run(seconds)), daemon=True)
        self._runner.start()

    def join(self):
        self._runner.join()
        return self._elapsed[0]

    # --- roles ---------------------------------------------------------------------

    def _signed_post(self, client, op, path, body: bytes, producer):
        headers = {"Content-Type": "application/json",
                   **sign(producer["secret"], int(time.time()), body, key_id=producer["key_id"])}
        return client.request(op, "POST", path, body, headers)

    def _producer(self, producer):
        client = Client(self.stack.port)
        rng = random.Random(producer["key_id"])
        version = 0
        last_body = None
        while not self.stop_event.is_set():
            roll = rng.random()
            if roll < 0.15:
                self._post_candles(client, producer, rng)
                continue
            if roll < 0.25 and last_body is not None:
                # A client retrying after a timeout sends the very same bytes again.
                record, content, headers = self._signed_post(client, "signal replay", "/api/v1/signals/", last_body,
                                                             producer)
                replayed = record.status == 200 and headers.get("Idempotent-Replayed") == "true"
                self.ledger.add(record, **({"signals_replayed": json.loads(content)["id"]} if replayed else {}))
                continue
            version += 1
            instrument = rng.choice(INSTRUMENTS)
            price = PRICES[instrument] * (1 + rng.uniform(-0.002, 0.002))
            side = rng.choice(["buy", "sell"])
            step = price * 0.003
            stop, target = (price - step, price + step) if side == "buy" else (price + step, price - step)
            digits = DIGITS[instrument]
            body = json.dumps({
                "instrument": instrument, "side": side, "time": iso(datetime.now(timezone.utc)), "version": version,
                "entry_price": f"{price:.{digits}f}", "stop_loss": f"{stop:.{digits}f}",
                "take_profit": f"{target:.{digits}f}", "payload": {"strategy": producer["name"], "rsi": rng.random()},
            }).encode()
            record, content, headers = self._signed_post(client, "signal create", "/api/v1/signals/", body, producer)
            self.ledger.add(record)
            for _ in range(120):
                # No answer (a worker died) or 503 (the database is away): the outcome is unknown
                # or nil, so the producer sends the same content again, freshly signed, for up to
                # 30 s; the dedup key makes that safe.
                if record.status not in (0, 503) or self.stop_event.is_set():
                    break
                time.sleep(0.25)
                record, content, headers = self._signed_post(client, "signal retry", "/api/v1/signals/", body,
                                                             producer)
                self.ledger.add(record)
            if record.status in (200, 201):
                created = json.loads(content)
                self.ledger.add_fact(signals_created=created["id"])
                last_body = body
                with self.chart_lock:
                    self.chart_urls.append(created["chart_url"])

    def _post_candles(self, client, producer, rng):
        instrument = rng.choice(INSTRUMENTS)
        now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        base = PRICES[instrument]
        digits = DIGITS[instrument]
        candles = []
        for i in range(60):  # the last hour of M1 bars, the newest one still moving
            moment = now - timedelta(minutes=59 - i)
            open_ = base * (1 + 0.0005 * ((i * 7919 + moment.hour) % 11 - 5) / 5)
            close = open_ * (1 + rng.uniform(-0.0004, 0.0004))
            candles.append({"time": iso(moment), "open": f"{open_:.{digits}f}", "close": f"{close:.{digits}f}",
                            "high": f"{max(open_, close) * 1.0003:.{digits}f}",
                            "low": f"{min(open_, close) * 0.9997:.{digits}f}", "volume": str(rng.randint(1, 500))})
        body = json.dumps({"instrument": instrument, "timeframe": "M1", "candles": candles}).encode()
        record, _, _ = self._signed_post(client, "candles upsert", "/api/v1/candles/", body, producer)
        self.ledger.add(record)

    def _trader(self, actor):
        client = Client(self.stack.port)
        rng = random.Random(actor["username"] + str(threading.get_ident()))
        auth = {"Authorization": f"Bearer {actor['token']}"}
        while not self.stop_event.is_set():
            record, content, _ = client.request("signals list", "GET", "/api/v1/signals/?status=pending&page_size=20",
                                                headers=auth)
            self.ledger.add(record)
            pending = json.loads(content)["results"] if record.status == 200 else []
            if not pending:
                time.sleep(0.05)
                continue
            signal_ = rng.choice(pending)
            decision = rng.choice(["approved", "rejected"])
            body = json.dumps({"signal": signal_["id"], "decision": decision, "consent_version": "1",
                               "reason": "load test"}).encode()
            record, content, _ = client.request("approval create", "POST", "/api/v1/approvals/", body,
                                                {**auth, "Content-Type": "application/json"})
            facts = {}
            if record.status == 201:
                facts["approvals_created"] = (json.loads(content)["id"], signal_["id"], decision)
            elif record.status == 0:
                facts["decisions_unanswered"] = signal_["id"]
            self.ledger.add(record, **facts)

    def _viewer(self):
        client = Client(self.stack.port)
        rng = random.Random(threading.get_ident())
        while not self.stop_event.is_set():
            with self.chart_lock:
                url = rng.choice(self.chart_urls[-50:]) if self.chart_urls else None
            if url is None:
                time.sleep(0.1)
                continue
            parts = urlsplit(url)
            record, _, _ = client.request("chart by link", "GET", f"{parts.path}?{parts.query}")
            self.ledger.add(record)

    # --- results -------------------------------------------------------------------

    def report(self, elapsed, out=sys.stdout):
        by_op = defaultdict(list)
        for record in self.ledger.records:
            by_op[record.op].append(record)
        out.write(f"{'operation':<16} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses\n")
        for op in sorted(by_op):
            records = by_op[op]
            latencies = sorted(r.seconds * 1000 for r in records)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            statuses = defaultdict(int)
            for r in records:
                statuses[r.status] += 1
            out.write(f"{op:<16} {len(records):>8} {len(records) / elapsed:>7.1f} "
                      f"{statistics.median(latencies):>8.1f} {p99:>8.1f}  "
                      f"{dict(sorted(statuses.items()))}\n")
        total = len(self.ledger.records)
        out.write(f"{'all':<16} {total:>8} {total / elapsed:>7.1f}  in {elapsed:.1f} s\n")

    def server_errors(self, *, unavailable=None):
        """5xx answers, except 503 problems inside `unavailable` (start, end)
        unix times, when a backing service was down on purpose."""
        def excused(r):
            return (unavailable is not None and r.status == 503 and r.problem
                    and unavailable[0] <= r.at <= unavailable[1])
        return [r for r in self.ledger.records if r.status >= 500 and not excused(r)]

    def timeline(self, since, out=sys.stdout, marks=()):
        """Answers per second: 2xx, 4xx, 503, other 5xx, no answer."""
        buckets = defaultdict(lambda: defaultdict(int))
        for r in self.ledger.records:
            kind = ("no answer" if r.status == 0 else "503" if r.status == 503 else
                    "5xx" if r.status >= 500 else f"{r.status // 100}xx")
            buckets[int(r.at - since)][kind] += 1
        labels = {int(at - since): text for at, text in marks}
        out.write("   s   2xx   4xx   503   5xx  none\n")
        for second in sorted(buckets):
            row = buckets[second]
            out.write(f"{second:>4} {row['2xx']:>5} {row['4xx']:>5} {row['503']:>5} {row['5xx']:>5} "
                      f"{row['no answer']:>5}  {labels.get(second, '')}\n")

    def metric_total(self, name: str) -> float:
        """The sum over all label sets of counter `name` in /metrics (all workers summed)."""
        _, text = self.stack.get("/metrics")
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.decode().splitlines()
                   if line.startswith(name + "{"))

    def verify(self, check: Checks, *, unavailable=None, exact_metrics=True):
        """What the clients were told against what the database holds; the
        audit chain verified by the operators' own command; the counters of
        /metrics, summed over the workers, against the rows (`exact_metrics`
        off when workers were killed: one dying between its commit and the
        counter increment right after loses that increment)."""
        ledger = self.ledger
        facts = self.stack.django("""
from collections import Counter
from approvals.models import Approval
from audit.models import AuditEntry
from signals.models import Signal
created = payload["signals_created"]
rows = Counter(str(pk) for pk in Signal.objects.filter(pk__in=created).values_list("pk", flat=True))
approvals = {str(a.pk): (str(a.signal_id), a.decision, a.signal.status)
             for a in Approval.objects.select_related("signal").filter(pk__in=[a[0] for a in payload["approvals"]])}
actions = Counter(AuditEntry.objects.values_list("action", flat=True))
print(json.dumps({
    "signal_rows": Signal.objects.count(), "signals_found": len(rows),
    "approval_rows": Approval.objects.count(), "approvals": approvals,
    "decided_signals": Signal.objects.exclude(status__in=["pending", "expired"]).count(),
    "audit": dict(actions),
}))
""", {"signals_created": ledger.signals_created, "approvals": ledger.approvals_created})
        created, replayed = set(ledger.signals_created), set(ledger.signals_replayed)
        check(len(created) == len(ledger.signals_created),
              f"{len(ledger.signals_created)} signal 201s, all distinct ids")
        check(facts["signals_found"] == len(created) == facts["signal_rows"],
              f"every 201 is exactly one row: {facts['signals_found']} found of {len(created)}, "
              f"{facts['signal_rows']} rows in all")
        check(replayed <= created, f"{len(ledger.signals_replayed)} replays answered with the original signal")
        approval_ids = [a[0] for a in ledger.approvals_created]
        signals_decided = [a[1] for a in ledger.approvals_created]
        check(len(set(signals_decided)) == len(signals_decided),
              f"{len(approval_ids)} approval 201s, at most one per signal")
        unknown = len(ledger.decisions_unanswered)
        check(len(facts["approvals"]) == len(approval_ids)
              and len(approval_ids) <= facts["approval_rows"] <= len(approval_ids) + unknown,
              f"every approval 201 is exactly one row: {len(facts['approvals'])} found, "
              f"{facts['approval_rows']} rows in all ({unknown} decisions got no answer)")
        check(all(facts["approvals"][a][1] == d == facts["approvals"][a][2]
                  for a, _, d in ledger.approvals_created if a in facts["approvals"]),
              "each approval's decision is its signal's status")
        check(facts["decided_signals"] == facts["approval_rows"],
              "decided signals == approvals (no half-done decision)")
        audit = facts["audit"]
        check(audit.get("signal.create", 0) == facts["signal_rows"]
              and audit.get("approval.create", 0) == facts["approval_rows"],
              f"one audit entry per stored signal and approval: {audit.get('signal.create', 0)} signal.create, "
              f"{audit.get('approval.create', 0)} approval.create, {audit.get('signal.replay', 0)} signal.replay")
        verify = self.stack.manage("verify_audit", check=False)
        check(verify.returncode == 0, "manage.py verify_audit: " + (verify.stdout or verify.stderr).strip()
              .replace("\n", " | "))
        ingested, decided = self.metric_total("signals_ingested_total"), self.metric_total("approvals_total")
        metrics_ok = (ingested, decided) == (facts["signal_rows"], facts["approval_rows"])
        check(metrics_ok or not exact_metrics,
              f"/metrics across workers: signals_ingested_total {ingested:.0f}, approvals_total {decided:.0f}"
              + ("" if exact_metrics else " (not compared: workers were killed)"))
        errors = self.server_errors(unavailable=unavailable)
        excused = sum(r.status >= 500 for r in ledger.records) - len(errors)
        check(not errors, f"no 5xx answers ({len(errors)} seen"
              + (f"; {excused} 503 problems with Retry-After while the database was down)" if unavailable else ")"))
        unanswered = sum(r.status == 0 for r in ledger.records)
        check.out.write(f"  requests without an answer (connection refused or reset): {unanswered}\n")
