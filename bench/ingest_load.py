"""The load generator of the ingestion benchmark (bench/ingest.py) and of the
bridge poll benchmark (bench/poll.py): client processes of their own, each
with a few threads, so one interpreter's lock never caps the load.

Each thread keeps one HTTP/1.1 connection and posts as fast as answers come
back. Two endpoints (the plan's `modes`) take turns in slices of `slice`
seconds, all threads switching together, so both see the same background
load on a shared machine. The plan's `request` makes each request; by
default the ingestion's: each a new signal (unique version), `signed`
requests (signed with the strategy authors' client module) to the
production endpoint, unsigned ones to the baseline."""

import http.client
import itertools
import json
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from tradeplatform_client import sign

PATHS = {"baseline": "/api/v1/bench/baseline/", "signed": "/api/v1/signals/"}


def body_of(version: int) -> bytes:
    return json.dumps({
        "instrument": "EURUSD", "side": "buy", "version": version,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "entry_price": "1.08450", "stop_loss": "1.08100", "take_profit": "1.09100",
        "payload": {"strategy": "bench", "rsi": 28.4, "features": list(range(20))},
    }, separators=(",", ":")).encode()


def signal_request(mode: str, version: int, key_id: str, secret: str) -> tuple[str, bytes, dict]:
    """The ingestion's request of `mode`: (path, body, headers)."""
    body = body_of(version)
    headers = {"Content-Type": "application/json"}
    if mode == "signed":
        headers.update(sign(secret, int(time.time()), body, key_id=key_id))
    return PATHS[mode], body, headers


@dataclass(frozen=True)
class LoadPlan:
    port: int
    # (key id, secret) pairs: client thread n signs with the n-th, round robin.
    credentials: tuple[tuple[str, str], ...]
    seconds: float  # in all; each mode gets half
    version_base: int = 1  # versions are unique from here on, so no request is a replay
    slice: float = 1.0
    processes: int = 2
    threads: int = 4
    modes: tuple[str, str] = ("baseline", "signed")
    # (mode, version, key id, secret) -> (path, body, headers); a module-level
    # function, so that it reaches the client processes.
    request: Callable[[str, int, str, str], tuple[str, bytes, dict]] = signal_request


def run_thread(plan, number, started, results, lock):
    versions = itertools.count(plan.version_base + number * 1_000_000)
    key_id, secret = plan.credentials[number % len(plan.credentials)]
    connection = http.client.HTTPConnection("127.0.0.1", plan.port, timeout=30)
    mine = {mode: ([], {}) for mode in plan.modes}
    while (elapsed := time.monotonic() - started) < plan.seconds:
        mode = plan.modes[int(elapsed / plan.slice) % len(plan.modes)]
        path, body, headers = plan.request(mode, next(versions), key_id, secret)
        sent = time.perf_counter()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        latencies, statuses = mine[mode]
        latencies.append(time.perf_counter() - sent)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    connection.close()
    with lock:
        merge(results, mine)


def merge(into, results):
    for mode, (latencies, statuses) in results.items():
        into[mode][0].extend(latencies)
        for status, count in statuses.items():
            into[mode][1][status] = into[mode][1].get(status, 0) + count


def run_process(plan, index, started, queue):
    results, lock = {mode: ([], {}) for mode in plan.modes}, threading.Lock()
    threads = [threading.Thread(target=run_thread, args=(plan, index * plan.threads + n, started, results, lock))
               for n in range(plan.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def percentile_ms(ordered, fraction):
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000, 2) if ordered else None


def run_load(plan: LoadPlan) -> dict:
    """Per mode: the requests, the successful ones per second of its own
    slices, status counts and p50/p99 latency (ms)."""
    queue = multiprocessing.Queue()
    started = time.monotonic()
    processes = [multiprocessing.Process(target=run_process, args=(plan, i, started, queue))
                 for i in range(plan.processes)]
    for process in processes:
        process.start()
    merged = {mode: ([], {}) for mode in plan.modes}
    for _ in processes:
        merge(merged, queue.get())
    for process in processes:
        process.join()
    mode_seconds = (time.monotonic() - started) / len(plan.modes)
    report = {}
    for mode, (latencies, statuses) in merged.items():
        ordered = sorted(latencies)
        report[mode] = {
            "requests": len(ordered), "seconds": round(mode_seconds, 2),
            "ok_per_second": round(sum(c for s, c in statuses.items() if 200 <= s < 300) / mode_seconds, 1),
            "statuses": {str(s): c for s, c in sorted(statuses.items())},
            "p50_ms": percentile_ms(ordered, 0.50), "p99_ms": percentile_ms(ordered, 0.99),
        }
    return report
