"""The load mix while Redis stops, workers die or PostgreSQL stops; checks the documented degradation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench faults SCENARIO
        [--before S] [--down S] [--after S] [--kills N]

The production stack (bench/harness.py `Stack`) under a smaller mix than the
load run, so a fault's effect stands out second by second: --before seconds
of load, the fault for --down seconds, --after seconds of load. Every
scenario then checks /readyz is 200 again, prints the answers per second
and per operation, and checks nothing the clients were told was lost or
doubled and the audit chain verifies. Exits 1 if a check fails.

redis     The private redis-server stops and starts again. Expected: /readyz
          503 naming `cache` meanwhile, ingestion and decisions go on with no
          5xx (the cache only ever speeds things up).
worker    --kills gunicorn workers, spread over --down, are killed with
          SIGKILL mid-request (a crash or the OOM killer). Requests in flight
          get no answer; producers resend those with the same content, as a
          client must. Expected: the master replaces them; no partial write,
          no lost or doubled signal, no 5xx.
postgres  CAUTION: stops the machine's PostgreSQL cluster (`pg_ctlcluster
          ... stop -m fast`), every database on it, not only this run's; it
          is always started again, even when the run fails. Refused unless
          --i-know-it-stops-postgres is given. Expected: meanwhile every
          request that needs the database gets a 503 problem with
          Retry-After (never a 500 or a dropped connection), /readyz names
          `database`; the service recovers by itself within 10 s of the
          restart; nothing committed is lost.
"""

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from bench.harness import Checks, Stack, argument_parser, scratch_database_url
from bench.mix import SERVER_ENV, Workload

SMOKE = ["--before", "2", "--down", "4", "--after", "3", "--kills", "2"]


@dataclass
class Outage:
    began: float
    ended: float
    marks: list  # (unix time, label) for the timeline


# --- stopping and starting a backing service ------------------------------------------

@dataclass(frozen=True)
class Service:
    name: str
    dependency: str  # how /readyz names it
    stop: Callable[[Stack], None]
    start: Callable[[Stack], None]


def pg_ctl(action, *extra):
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *extra], check=True)


REDIS = Service("redis-server", "cache", stop=Stack.stop_redis, start=Stack.start_redis)
POSTGRES = Service("PostgreSQL", "database", stop=lambda stack: pg_ctl("stop", "-m", "fast"),
                   start=lambda stack: pg_ctl("start"))


def take_down(service, stack, workload, check, args) -> Outage:
    """Stops `service` for --down seconds; it is started again whatever happens."""
    service.stop(stack)
    began = time.time()
    print(f"{service.name} stopped at +{began - workload.started:.1f} s")
    try:
        time.sleep(1)
        status, body = stack.readyz()
        check(status == 503 and body.get("failed") == [service.dependency],
              f"{service.name} down: /readyz {status} failed={body.get('failed')}")
        time.sleep(max(0, args.down - 1))
    finally:
        service.start(stack)
        ended = time.time()
        print(f"{service.name} started again at +{ended - workload.started:.1f} s")
    return Outage(began, ended, [(began, f"<- {service.name} stopped"), (ended, f"<- {service.name} started")])


def kill_workers(stack, workload, check, args) -> Outage:
    """SIGKILLs one busy worker at the start of --down and every
    --down/--kills seconds after."""
    began, marks = time.time(), []
    for n in range(args.kills):
        time.sleep(max(0, began + n * args.down / args.kills - time.time()))
        workers = stack.worker_pids()
        victim = random.choice(workers)
        os.kill(victim, signal.SIGKILL)
        marks.append((time.time(), f"<- SIGKILL worker {victim}"))
        print(f"killed worker {victim} at +{marks[-1][0] - workload.started:.1f} s ({len(workers)} running)")
    time.sleep(max(0, began + args.down - time.time()))
    return Outage(began, time.time(), marks)


# --- what each fault must not have broken -----------------------------------------------

def kept_serving_without_redis(stack, records, outage, check):
    during = [r for r in records if outage.began <= r.at <= outage.ended]
    for op in ("signal create", "candles upsert", "approval create", "signals list"):
        statuses = [r.status for r in during if r.op == op]
        ok = sum(200 <= s < 300 for s in statuses)
        check(statuses and ok and not any(s >= 500 or s == 0 for s in statuses),
              f"while Redis was down, {op}: {ok} of {len(statuses)} succeeded, no 5xx ({sorted(set(statuses))})")


def workers_replaced(stack, records, outage, check):
    deadline = time.time() + 10  # the master notices the last death and forks a replacement
    while len(workers := stack.worker_pids()) != stack.workers and time.time() < deadline:
        time.sleep(0.2)
    check(len(workers) == stack.workers, f"the master runs {len(workers)} workers again (of {stack.workers})")


def answered_503_without_postgres(stack, records, outage, check):
    down = [r for r in records if outage.began <= r.at <= outage.ended]
    check(down and all(r.status == 503 and r.problem for r in down if r.status >= 500),
          f"while down: {sum(r.status == 503 for r in down)} answers 503 problem+json with Retry-After, "
          f"{sum(r.status >= 500 and r.status != 503 for r in down)} other 5xx")
    check(not any(r.status == 0 for r in records), "no request went unanswered")
    recovered = [r.at for r in records if r.at > outage.ended and r.op == "signal create" and r.status == 201]
    first_ok = min(recovered) - outage.ended if recovered else None
    check(first_ok is not None and first_ok < 10,
          f"recovered by itself: first signal stored {first_ok:.1f} s after PostgreSQL was back"
          if first_ok is not None else "recovered by itself: no signal stored after the restart")
    late = [r for r in records if r.at > outage.ended + 10 and r.status >= 500]
    check(not late, f"no 5xx from 10 s after the restart on ({len(late)} seen)")


# --- the scenarios ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    fault: Callable  # (stack, workload, check, args) -> Outage, while the mix runs
    check_after: Callable  # (stack, records, outage, check), once the mix has ended
    before: float  # default seconds of load before the fault, of the fault, and after it
    down: float
    after: float
    # A dying worker may lose the counter increment right after its commit.
    exact_metrics: bool = True
    # 503 problems with Retry-After are the documented answer while the database is down.
    excuse_503s: bool = False
    stops_postgres: bool = False


SCENARIOS = {
    "redis": Scenario(partial(take_down, REDIS), kept_serving_without_redis, before=10, down=15, after=10),
    "worker": Scenario(kill_workers, workers_replaced, before=3, down=12, after=3, exact_metrics=False),
    "postgres": Scenario(partial(take_down, POSTGRES), answered_503_without_postgres, before=10, down=8, after=15,
                         excuse_503s=True, stops_postgres=True),
}


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("scenario", choices=SCENARIOS)
    for name, meaning in (("before", "load before the fault"), ("down", "the fault"), ("after", "load after it")):
        defaults = ", ".join(f"{key} {getattr(scenario, name):g}" for key, scenario in SCENARIOS.items())
        parser.add_argument(f"--{name}", type=float, help=f"seconds of {meaning} (default: {defaults})")
    parser.add_argument("--kills", type=int, default=4, help="worker: how many workers to kill (default 4)")
    parser.add_argument("--i-know-it-stops-postgres", action="store_true",
                        help="postgres: run it although it stops every database of the machine's cluster")
    args = parser.parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    if scenario.stops_postgres and not args.i_know_it_stops_postgres:
        parser.error("the postgres scenario stops the machine's PostgreSQL cluster, every database on it: "
                     "run it where nothing else needs the database, with --i-know-it-stops-postgres")
    for name in ("before", "down", "after"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(scenario, name))

    check = Checks()
    with Stack(database_url=scratch_database_url(), env=SERVER_ENV) as stack:
        workload = Workload(stack, traders=3, producers_per_trader=2, viewers=2)
        workload.start(args.before + args.down + args.after)
        time.sleep(args.before)
        status, _ = stack.readyz()
        check(status == 200, f"before the fault: /readyz {status}")
        outage = scenario.fault(stack, workload, check, args)
        while (status := stack.readyz()[0]) != 200 and time.time() - outage.ended < 30:
            time.sleep(0.1)
        check(status == 200, f"after the fault: /readyz {status} within {time.time() - outage.ended:.1f} s")
        elapsed = workload.join()
        workload.timeline(workload.started, marks=outage.marks)
        workload.report(elapsed)
        scenario.check_after(stack, workload.ledger.records, outage, check)
        print("checks:")
        unavailable = (outage.began - 1, outage.ended + 10) if scenario.excuse_503s else None
        workload.verify(check, unavailable=unavailable, exact_metrics=scenario.exact_metrics)
    return check.status()
