"""Fault run (issue 7): gunicorn workers killed (SIGKILL) mid-request.

    .venv/bin/python bench/faults_worker.py [--kills 4] [--interval 3]

The stack of bench/load_harness.py under the load mix; every --interval
seconds one gunicorn worker, busy with the requests of the mix, is killed
with SIGKILL (no cleanup, no graceful shutdown: a crash or the OOM killer).
Requests in flight on it get no answer; producers retry those with the same
content, as a real client must when it cannot know the outcome. Expected:
the master replaces the worker; no partial writes (every stored signal and
approval has its audit entry, every approval's signal carries its decision,
the audit chain verifies); no lost or doubled signal; no 5xx. Exits 1 if
any of that fails.
"""

import argparse
import os
import random
import signal
import time

from load_harness import Checks, fault_stack, fault_workload


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--interval", type=float, default=3)
    args = parser.parse_args()
    check = Checks()
    with fault_stack() as stack:
        workload = fault_workload(stack)
        duration = args.interval * (args.kills + 2)
        workload.start(duration)
        marks = []
        for _ in range(args.kills):
            time.sleep(args.interval)
            workers = stack.worker_pids()
            victim = random.choice(workers)
            os.kill(victim, signal.SIGKILL)
            marks.append((time.time(), f"<- SIGKILL worker {victim}"))
            print(f"killed worker {victim} at +{marks[-1][0] - workload.started:.1f} s ({len(workers)} running)")
        elapsed = workload.join()
        time.sleep(2)  # the master notices the last death and forks a replacement
        workers = stack.worker_pids()
        check(len(workers) == stack.workers, f"the master runs {len(workers)} workers again (of {stack.workers})")
        status, _ = stack.get("/readyz")
        check(status == 200, f"/readyz {status} after the kills")
        workload.timeline(workload.started, marks=marks)
        workload.report(elapsed)
        print("checks:")
        workload.verify(check, exact_metrics=False)
    check.exit()


if __name__ == "__main__":
    main()
