"""The bridge's poll with nothing pending vs a signed ping, same server, same run; target: ratio >= 0.6.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench poll [--seconds 30]

The production stack (bench/harness.py `Stack`: a scratch PostgreSQL
database, a private redis-server) with gunicorn at 2 workers; the load
comes from separate processes (bench/ingest_load.py) over loopback, 8
client threads, each signing as a bridge of its own (a bridge makes one
call at a time). The two endpoints take turns in one-second slices (so both
see the same background load of a shared machine), each for --seconds in
all (default 30), after a 4-second warm-up:

- poll: POST /api/v1/bridge/poll `{}` — verify the HMAC, validate the body,
  select the bridge's unacknowledged commands (there are none: no order
  exists), record the poll's time, answer `{"commands": []}`;
- ping: POST /api/v1/bench/bridge-ping `{}` — the same authentication,
  permission and throttle (a bridge call that does nothing), answering `{}`
  (bench/poll_urls.py; the endpoint exists only in this benchmark's server).

Target: poll req/s >= 0.6 x ping req/s. Exits 1 if it is missed or any
request got an answer other than 200.
"""

import json
import time
from dataclasses import replace

from bench.harness import Checks, Stack, argument_parser, scratch_database_url
from bench.ingest_load import LoadPlan, run_load
from tradeplatform_client import BRIDGE_KEY_HEADER, post_signed, sign

SMOKE = ["--seconds", "3"]

PATHS = {"ping": "/api/v1/bench/bridge-ping", "poll": "/api/v1/bridge/poll"}
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.poll_settings",
    # A budget the load never exhausts, taken in slices of production's size
    # (600/min: one Redis call per 6 requests, core/throttling.py): the
    # per-bridge check costs what it costs in production, but never refuses.
    "THROTTLE_BRIDGE": "600/s",
}


def bridge_request(mode: str, version: int, key_id: str, secret: str) -> tuple[str, bytes, dict]:
    """A signed `{}` to the endpoint of `mode` (the load generator's `request`)."""
    body = b"{}"
    headers = {"Content-Type": "application/json",
               **sign(secret, int(time.time()), body, key_id=key_id, key_header=BRIDGE_KEY_HEADER)}
    return PATHS[mode], body, headers


def create_bridges(stack, count: int) -> list[tuple[str, str]]:
    """`count` bridges of as many users: (key id, secret) of each."""
    return [tuple(pair) for pair in stack.django("""
from django.contrib.auth import get_user_model
from execution.services import create_bridge
pairs = []
for n in range(payload):
    owner = get_user_model().objects.create_user(f"bench-trader-{n}", password="bench-pass-0123456789")
    bridge, secret = create_bridge(name=f"bench-bridge-{n}", owner=owner, account_ref=f"bench-account-{n}")
    pairs.append((bridge.key_id, secret))
print(json.dumps(pairs))
""", count)]


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--seconds", type=float, default=30, help="per endpoint (default 30)")
    args = parser.parse_args(argv)

    check = Checks()
    with Stack(database_url=scratch_database_url(), workers=2, env=SERVER_ENV) as stack:
        plan = LoadPlan(port=stack.port, credentials=(), seconds=4, modes=("ping", "poll"), request=bridge_request)
        # One bridge per client thread: a bridge polls one call at a time.
        plan = replace(plan, credentials=tuple(create_bridges(stack, plan.processes * plan.threads)))
        key_id, secret = plan.credentials[0]
        status, _, content = post_signed(f"{stack.base_url}{PATHS['poll']}", b"{}", key_id=key_id, secret=secret,
                                         key_header=BRIDGE_KEY_HEADER)
        check(status == 200 and json.loads(content) == {"commands": []},
              f"nothing pending: a poll answers {status} {content.decode()[:80]}")
        run_load(plan)  # warm-up: connections, imports, caches
        result = run_load(replace(plan, seconds=2 * args.seconds))

    for mode in plan.modes:
        print(mode, json.dumps(result[mode]))
    print(f"ping {result['ping']['ok_per_second']} req/s, poll {result['poll']['ok_per_second']} req/s")
    check.ratio("ratio poll/ping", result["poll"]["ok_per_second"] / result["ping"]["ok_per_second"], at_least=0.6)
    unexpected = {mode: r["statuses"] for mode, r in result.items() if set(r["statuses"]) - {"200"}}
    check(not unexpected, f"only 200 answers ({unexpected or 'none other'})")
    return check.status()
