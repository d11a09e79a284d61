"""Fault run (issue 7): Redis stops during load.

    .venv/bin/python bench/faults_redis.py [--down 15]

The stack of bench/load_harness.py (a scratch PostgreSQL database, a private
redis-server on port 6391, gunicorn with 4 workers) under the load mix; after
10 s the redis-server is stopped for --down seconds and started again.
Expected: /readyz answers 503 naming `cache` while it is down and 200 again
after; ingestion and decisions go on with no 5xx (the cache only ever
speeds things up); nothing is lost or doubled; the audit chain verifies.
Exits 1 if any of that fails.
"""

import argparse
import time

from load_harness import Checks, fault_stack, fault_workload


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--down", type=float, default=15)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--after", type=float, default=10)
    args = parser.parse_args()
    check = Checks()
    with fault_stack() as stack:
        workload = fault_workload(stack)
        workload.start(args.before + args.down + args.after)
        time.sleep(args.before)
        status, body = stack.readyz()
        check(status == 200, f"before: /readyz {status}")

        stack.stop_redis()
        stopped = time.time()
        print(f"redis-server stopped at +{stopped - workload.started:.1f} s")
        time.sleep(1)
        status, body = stack.readyz()
        check(status == 503 and body.get("failed") == ["cache"],
              f"Redis down: /readyz {status} failed={body.get('failed')} detail={body.get('detail')!r}")
        time.sleep(args.down - 1)

        stack.start_redis()
        restarted = time.time()
        print(f"redis-server started again at +{restarted - workload.started:.1f} s")
        for _ in range(50):
            status, _ = stack.readyz()
            if status == 200:
                break
            time.sleep(0.1)
        check(status == 200, f"after: /readyz {status} within {time.time() - restarted:.1f} s")

        elapsed = workload.join()
        workload.timeline(workload.started, marks=[(stopped, "<- redis stopped"), (restarted, "<- redis started")])
        workload.report(elapsed)
        during = [r for r in workload.ledger.records if stopped <= r.at <= restarted]
        by_op = {}
        for r in during:
            by_op.setdefault(r.op, []).append(r.status)
        for op in ("signal create", "candles upsert", "approval create", "signals list"):
            statuses = by_op.get(op, [])
            ok = sum(200 <= s < 300 for s in statuses)
            check(statuses and ok and not any(s >= 500 or s == 0 for s in statuses),
                  f"while Redis was down, {op}: {ok} of {len(statuses)} succeeded, "
                  f"no 5xx ({sorted(set(statuses))})")
        print("checks:")
        workload.verify(check)
    check.exit()


if __name__ == "__main__":
    main()
