"""Signed signal ingestion vs a parse-and-insert baseline, same server, same run; target: ratio >= 0.6.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench ingest [--seconds 30]

The production stack (bench/harness.py `Stack`: a scratch PostgreSQL
database, a private redis-server) with gunicorn at 2 workers; the load
comes from separate processes (bench/ingest_load.py) over loopback. The two
endpoints take turns in one-second slices (so both see the same background
load of a shared machine), each for --seconds in all (default 30: shorter
runs of the same code wandered by ±0.03), after a 4-second warm-up:

- signed:   POST /api/v1/signals/ — verify the HMAC, validate, insert, audit, metrics;
- baseline: POST /api/v1/bench/baseline/ — parse the JSON body with DRF, insert one row
  (bench/ingest_urls.py; the endpoint exists only in this benchmark's server).

Target: signed req/s >= 0.6 x baseline req/s. Exits 1 if it is missed or
any request got an answer other than 200/201. --without-audit is a
diagnosis (signed ingestion without its audit entry), never the figure to
report.
"""

import json
from dataclasses import replace

from bench.harness import Checks, Stack, argument_parser, scratch_database_url
from bench.ingest_load import LoadPlan, run_load

SMOKE = ["--seconds", "3"]

SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.ingest_settings",
    # A budget the load never exhausts, taken in slices of production's size
    # (600/min: one Redis call per 6 requests, core/throttling.py):
    # the per-producer check costs what it costs in production, but never refuses.
    "THROTTLE_PRODUCER": "600/s",
}


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--seconds", type=float, default=30, help="per endpoint (default 30)")
    parser.add_argument("--without-audit", action="store_true",
                        help="diagnosis: signed ingestion without its audit entry (not the figure to report)")
    args = parser.parse_args(argv)
    env = {**SERVER_ENV, **({"BENCH_WITHOUT_AUDIT": "1"} if args.without_audit else {})}

    with Stack(database_url=scratch_database_url(), workers=2, env=env) as stack:
        stack.manage("shell", "-c", "from django.contrib.auth import get_user_model; get_user_model()"
                     ".objects.create_user('bench-trader', password='bench-pass-0123456789')")
        credentials = json.loads(stack.manage("create_producer", "bench-engine", "--owner", "bench-trader",
                                              "--json").stdout)
        plan = LoadPlan(port=stack.port, credentials=((credentials["key_id"], credentials["secret"]),), seconds=4)
        run_load(plan)  # warm-up: connections, imports, caches
        result = run_load(replace(plan, seconds=2 * args.seconds, version_base=100_000_000))

    for mode in ("baseline", "signed"):
        print(mode, json.dumps(result[mode]))
    print(f"baseline {result['baseline']['ok_per_second']} req/s, signed {result['signed']['ok_per_second']} req/s")
    check = Checks()
    check.ratio("ratio signed/baseline", result["signed"]["ok_per_second"] / result["baseline"]["ok_per_second"],
                at_least=0.6)
    unexpected = {mode: r["statuses"] for mode, r in result.items() if set(r["statuses"]) - {"200", "201"}}
    check(not unexpected, f"only 200 and 201 answers ({unexpected or 'none other'})")
    return check.status()
