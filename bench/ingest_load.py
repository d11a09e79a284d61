"""Load generator of the ingestion benchmark (run by bench/ingest_bench.py, in
its own processes so it never shares an interpreter with the server).

Each thread keeps one HTTP/1.1 connection and posts as fast as answers come
back, each request a new signal (unique version). The two endpoints take
turns in slices of --slice seconds, all threads switching together, so
both see the same background load on a shared machine: `signed` requests
(signed with the strategy authors' client module) to --signed-url, unsigned
ones to --baseline-url. Prints one JSON object: per mode the requests, the
successful ones per second of its own slices, status counts and p50/p99 (ms).
"""

import argparse
import http.client
import itertools
import json
import multiprocessing
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tradeplatform_client.signing import sign  # noqa: E402

MODES = ("baseline", "signed")


def body_of(version: int) -> bytes:
    return json.dumps({
        "instrument": "EURUSD", "side": "buy", "version": version,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "entry_price": "1.08450", "stop_loss": "1.08100", "take_profit": "1.09100",
        "payload": {"strategy": "bench", "rsi": 28.4, "features": list(range(20))},
    }, separators=(",", ":")).encode()


def run_thread(args, versions, started, results, lock):
    urls = {"baseline": urllib.parse.urlsplit(args.baseline_url), "signed": urllib.parse.urlsplit(args.signed_url)}
    connection = http.client.HTTPConnection(urls["signed"].hostname, urls["signed"].port, timeout=30)
    mine = {mode: ([], {}) for mode in MODES}
    while (elapsed := time.monotonic() - started) < args.seconds:
        mode = MODES[int(elapsed / args.slice) % 2]
        body = body_of(next(versions))
        headers = {"Content-Type": "application/json"}
        if mode == "signed":
            headers.update(sign(args.secret, int(time.time()), body, key_id=args.key_id))
        sent = time.perf_counter()
        connection.request("POST", urls[mode].path, body, headers)
        response = connection.getresponse()
        response.read()
        latencies, statuses = mine[mode]
        latencies.append(time.perf_counter() - sent)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    connection.close()
    with lock:
        for mode, (latencies, statuses) in mine.items():
            results[mode][0].extend(latencies)
            for status, count in statuses.items():
                results[mode][1][status] = results[mode][1].get(status, 0) + count


def run_process(args, index, started, queue):
    results, lock = {mode: ([], {}) for mode in MODES}, threading.Lock()
    # Versions are unique across processes and threads: no request is a replay.
    threads = [threading.Thread(target=run_thread, args=(
        args, itertools.count(args.version_base + (index * args.threads + n) * 1_000_000), started, results, lock))
        for n in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def percentile_ms(ordered, fraction):
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000, 2) if ordered else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--signed-url", required=True)
    parser.add_argument("--baseline-url", required=True)
    parser.add_argument("--seconds", type=float, default=20, help="in all; each mode gets half")
    parser.add_argument("--slice", type=float, default=1.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--version-base", type=int, default=1)
    args = parser.parse_args()

    queue = multiprocessing.Queue()
    started = time.monotonic()
    processes = [multiprocessing.Process(target=run_process, args=(args, i, started, queue))
                 for i in range(args.processes)]
    for process in processes:
        process.start()
    merged = {mode: ([], {}) for mode in MODES}
    for _ in processes:
        for mode, (latencies, statuses) in queue.get().items():
            merged[mode][0].extend(latencies)
            for status, count in statuses.items():
                merged[mode][1][status] = merged[mode][1].get(status, 0) + count
    for process in processes:
        process.join()
    mode_seconds = (time.monotonic() - started) / 2
    report = {}
    for mode, (latencies, statuses) in merged.items():
        ordered = sorted(latencies)
        report[mode] = {
            "requests": len(ordered), "seconds": round(mode_seconds, 2),
            "ok_per_second": round(sum(c for s, c in statuses.items() if 200 <= s < 300) / mode_seconds, 1),
            "statuses": {str(s): c for s, c in sorted(statuses.items())},
            "p50_ms": percentile_ms(ordered, 0.50), "p99_ms": percentile_ms(ordered, 0.99),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
