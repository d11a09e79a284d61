"""Load run (issue 7): the realistic mix against gunicorn (4 workers) on
PostgreSQL and Redis, then the checks that nothing was lost or doubled.

    .venv/bin/python bench/load_mix.py [--duration 60] [--traders 4] [--producers-per-trader 2] [--threads 1]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tp_load) is
dropped and created afresh: a scratch database only. Redis is a private
redis-server this script starts on --redis-port (default 6391) and stops.
Prints requests, throughput and p50/p99 latency per operation, then the
checks; exits 1 if any check fails (a 5xx, a lost or doubled signal or
approval, a broken audit chain).
"""

import argparse
import os

from load_harness import Checks, Stack, Workload


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--traders", type=int, default=4)
    parser.add_argument("--producers-per-trader", type=int, default=2)
    parser.add_argument("--trader-threads", type=int, default=2, help="concurrent app sessions per trader")
    parser.add_argument("--viewers", type=int, default=3, help="threads fetching charts by signed link")
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--threads", type=int, default=1, help="per gunicorn worker (production's default: 1)")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tp_load")
    with Stack(database_url=database_url, redis_port=args.redis_port, threads=args.threads) as stack:
        actors = stack.create_actors(traders=args.traders, producers_per_trader=args.producers_per_trader)
        workload = Workload(stack, actors, trader_threads=args.trader_threads, viewers=args.viewers)
        print(f"gunicorn {stack.workers} workers x {stack.threads} threads on {stack.base_url}; "
              f"{args.traders} traders x {args.trader_threads} sessions, "
              f"{args.traders * args.producers_per_trader} producers, {args.viewers} chart viewers; "
              f"{args.duration:.0f} s")
        elapsed = workload.run(args.duration)
        workload.report(elapsed)
        print("checks:")
        check = Checks()
        workload.verify(check)
    check.exit()


if __name__ == "__main__":
    main()
