"""The realistic mix against the production stack; checks that nothing was lost or doubled.

The production stack on this machine (bench/harness.py `Stack`: a scratch
PostgreSQL database, a private redis-server, gunicorn with
`deploy/gunicorn.conf.py`, 4 workers of --threads threads) under the mix:
producers posting signed signals, replays and candles; traders listing and
deciding; viewers fetching charts by signed link. Prints requests,
throughput and p50/p99 latency per operation, then the checks: no 5xx,
every 201 exactly one row, one audit entry per stored signal and approval,
the audit chain verifies, /metrics summed over the workers equals the rows. No latency target: the figures are
a floor on this machine, not a capacity plan. Exits 1 if a check fails.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench load_mix [--duration 60]
"""


from bench.harness import Checks, Stack, argument_parser, scratch_database_url
from bench.mix import SERVER_ENV, Workload

SMOKE = ["--duration", "10", "--traders", "2"]


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--duration", type=float, default=60, help="seconds (default 60)")
    parser.add_argument("--traders", type=int, default=4)
    parser.add_argument("--producers-per-trader", type=int, default=2)
    parser.add_argument("--trader-threads", type=int, default=2, help="concurrent app sessions per trader")
    parser.add_argument("--viewers", type=int, default=3, help="threads fetching charts by signed link")
    parser.add_argument("--threads", type=int, default=1, help="per gunicorn worker (production's default: 1)")
    args = parser.parse_args(argv)

    check = Checks()
    with Stack(database_url=scratch_database_url(), threads=args.threads,
               env=SERVER_ENV) as stack:
        workload = Workload(stack, traders=args.traders, producers_per_trader=args.producers_per_trader,
                            trader_threads=args.trader_threads, viewers=args.viewers)
        print(f"gunicorn {stack.workers} workers x {stack.threads} threads on {stack.base_url}; "
              f"{args.traders} traders x {args.trader_threads} sessions, "
              f"{args.traders * args.producers_per_trader} producers, {args.viewers} chart viewers; "
              f"{args.duration:.0f} s")
        elapsed = workload.run(args.duration)
        workload.report(elapsed)
        print("checks:")
        workload.verify(check)
    return check.status()
