"""Fault run (issue 7): PostgreSQL restarts during load.

    .venv/bin/python bench/faults_postgres.py [--down 8]

CAUTION: stops the machine's PostgreSQL cluster (`pg_ctlcluster ... stop -m
fast`) for --down seconds: every database on it, not only this run's, is
unavailable meanwhile. It is always started again, even when the run fails.

The stack of bench/load_harness.py under the load mix. Expected: while the
database is down every request that needs it gets a 503 problem with
Retry-After (never a 500, never a hung or dropped connection), /readyz says
`database`; once it is back the service recovers by itself (persistent
connections are health-checked, CONN_HEALTH_CHECKS) with no restart; every
signal and approval the clients were told about (201) before, during or
after is still there, once; the audit chain verifies. Producers retry a 503
with the same content, as clients should. Exits 1 if any of that fails.
"""

import argparse
import subprocess
import time
from pathlib import Path

from load_harness import Checks, fault_stack, fault_workload

VERSION = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]


def pg_ctl(action, *extra) -> int:
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", VERSION, "main", action, *extra]).returncode


def pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--down", type=float, default=8)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--after", type=float, default=15)
    args = parser.parse_args()
    check = Checks()
    with fault_stack() as stack:
        workload = fault_workload(stack)
        workload.start(args.before + args.down + args.after)
        time.sleep(args.before)
        stopped = time.time()
        try:
            check(pg_ctl("stop", "-m", "fast") == 0, "pg_ctlcluster stop")
            print(f"PostgreSQL stopped at +{stopped - workload.started:.1f} s")
            time.sleep(1)
            status, answer = stack.readyz()
            failed = answer.get("failed")
            check(status == 503 and failed == ["database"], f"database down: /readyz {status} failed={failed}")
            time.sleep(max(0, args.down - 1))
        finally:
            pg_ctl("start")
            started = time.time()
            print(f"PostgreSQL started again at +{started - workload.started:.1f} s")
        while not pg_ready() and time.time() - started < 30:
            time.sleep(0.2)
        check(pg_ready(), "PostgreSQL accepts connections again")

        elapsed = workload.join()
        marks = [(stopped, "<- PostgreSQL stopped"), (started, "<- PostgreSQL started")]
        workload.timeline(workload.started, marks=marks)
        workload.report(elapsed)

        records = workload.ledger.records
        down = [r for r in records if stopped <= r.at <= started]
        check(down and all(r.status == 503 and r.problem for r in down if r.status >= 500),
              f"while down: {sum(r.status == 503 for r in down)} answers 503 problem+json with Retry-After, "
              f"{sum(r.status >= 500 and r.status != 503 for r in down)} other 5xx")
        check(not any(r.status == 0 for r in records), "no request went unanswered")
        recovered = [r.at for r in records if r.at > started and r.op == "signal create" and r.status == 201]
        first_ok = min(recovered) - started if recovered else None
        check(first_ok is not None and first_ok < 10,
              f"recovered by itself: first signal stored {first_ok:.1f} s after PostgreSQL was back"
              if first_ok is not None else "recovered by itself: no signal stored after the restart")
        late = [r for r in records if r.at > started + 10 and r.status >= 500]
        check(not late, f"no 5xx from 10 s after the restart on ({len(late)} seen)")
        status, _ = stack.get("/readyz")
        check(status == 200, f"/readyz {status} after the restart")
        print("checks:")
        workload.verify(check, unavailable=(stopped - 1, started + 10))
    check.exit()


if __name__ == "__main__":
    main()
