"""One signal to 10,000 subscribers vs the same signal to one; target: the signed ingest answers in <= 20x the time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench subscribers [--rounds 10]

The production stack (bench/harness.py `Stack`: a scratch PostgreSQL
database, a private redis-server) with gunicorn at 1 worker (the calls come
one at a time). Two public producers of one owner: `bench-one` with one
subscriber, `bench-many` with --subscribers (default 10,000). Each round
posts a fresh signed signal to each, the same body but for the version, and
times the client's wall time of the whole call: the signature, validation,
the owner's signal, a copy in each subscriber's feed, their audit entry
(and whatever else receives the batch event in that transaction, e.g. push
delivery), the commit, the answer. Rounds alternate which goes first, so
that the load of a shared machine weighs on both alike, after a warm-up
round of each.

Target: median(many) <= 20 x median(one). Checks afterwards: every answer
201 with the deliveries expected; each subscriber's feed holds one copy of
every signal; `manage.py verify_audit`.
"""

import http.client
import json
import os
import statistics
import time
from datetime import datetime, timezone

from bench.harness import Checks, Stack, argument_parser, configure_in_process, scratch_database_url, timed_post
from tradeplatform_client import sign

SMOKE = ["--rounds", "2", "--subscribers", "200"]

SERVER_ENV = {"LOG_LEVEL": "WARNING", "THROTTLE_PRODUCER": "1000000/min"}
TARGET_RATIO = 20


def create_producers(subscribers: int) -> dict:
    """The two public producers, their secrets, and their subscribers (users
    and subscriptions written in bulk: the set-up is not measured)."""
    from django.contrib.auth import get_user_model

    from signals.models import Subscription
    from signals.services import create_producer, update_producer

    User = get_user_model()
    owner = User.objects.create_user("bench-owner", password="bench-pass-0123456789")
    users = User.objects.bulk_create([User(username=f"bench-sub-{n:05d}", password="!")
                                      for n in range(subscribers)], batch_size=2000)
    producers = {}
    for name, audience in (("bench-one", users[:1]), ("bench-many", users)):
        producer, secret = create_producer(name=name, owner=owner)
        update_producer(producer=producer, public=True)
        Subscription.objects.bulk_create([Subscription(user=user, producer=producer) for user in audience],
                                         batch_size=2000)
        producers[name] = {"key_id": producer.key_id, "secret": secret, "deliveries": 1 + len(audience)}
    # The planner's statistics, as autovacuum keeps them on a live database: right
    # after the bulk set-up they say the tables are nearly empty, and the copies'
    # INSERT ... SELECT then joins 10,000 subscriptions to their users one index
    # probe at a time (a quarter of its time) instead of by hash.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return producers


class Ingest:
    """POST /api/v1/signals/ on the stack, signed as one producer."""

    def __init__(self, stack, key_id, secret):
        self.connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=300)
        self.key_id, self.secret = key_id, secret

    def post(self, version: int) -> tuple[float, int, dict]:
        """(wall seconds, status, answer)."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = json.dumps({"instrument": "EURUSD", "side": "buy", "time": now, "version": version,
                           "entry_price": "1.08450", "stop_loss": "1.08100", "take_profit": "1.09100",
                           "payload": {"strategy": "bench", "rsi": 28.4}}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **sign(self.secret, int(time.time()), body, key_id=self.key_id)}
        return timed_post(self.connection, "/api/v1/signals/", body, headers)


def outcome(calls: int) -> dict:
    """What the calls left: the signals of each producer, and the fullest
    and emptiest subscriber's feed of `bench-many`."""
    from django.db.models import Count, Max, Min

    from signals.models import Signal

    per_producer = dict(Signal.objects.values_list("producer__name").annotate(Count("pk")))
    feeds = (Signal.objects.filter(producer__name="bench-many", owner__username__startswith="bench-sub-")
             .values("owner").annotate(n=Count("pk")).aggregate(most=Max("n"), least=Min("n")))
    return {"per_producer": per_producer, **feeds}


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--rounds", type=int, default=10, help="measured rounds (default 10), after one warm-up")
    parser.add_argument("--subscribers", type=int, default=10_000, help="bench-many's subscribers (default 10000)")
    args = parser.parse_args(argv)
    calls = args.rounds + 1

    check = Checks()
    with Stack(database_url=scratch_database_url(), workers=1, env=SERVER_ENV) as stack:
        # This process's Django (set up after the stack took its environment): the same database.
        os.environ.update(DATABASE_URL=stack.database_url, REDIS_URL=stack.env["REDIS_URL"])
        configure_in_process()
        import django

        django.setup()
        producers = create_producers(args.subscribers)
        ingest = {name: Ingest(stack, p["key_id"], p["secret"]) for name, p in producers.items()}
        print(f"gunicorn {stack.workers} worker on {stack.base_url}; {args.rounds} rounds after a warm-up: "
              f"one signal to bench-one (1 subscriber) and one to bench-many ({args.subscribers} subscribers)")
        seconds = {name: [] for name in producers}
        bad_answers = []
        for round_number in range(calls):
            timings = {}
            for name in (("bench-one", "bench-many") if round_number % 2 else ("bench-many", "bench-one")):
                timings[name], status, answer = ingest[name].post(version=round_number + 1)
                if status != 201 or answer.get("deliveries") != producers[name]["deliveries"]:
                    bad_answers.append((name, status, {k: answer.get(k) for k in ("deliveries", "type", "body")}))
            label = "warm-up" if round_number == 0 else f"round {round_number}"
            print(f"  {label:<8}  one {timings['bench-one'] * 1000:8.1f} ms   many "
                  f"{timings['bench-many'] * 1000:8.1f} ms")
            if round_number:
                for name, value in timings.items():
                    seconds[name].append(value)

        one, many = statistics.median(seconds["bench-one"]), statistics.median(seconds["bench-many"])
        print(f"one subscriber: median {one * 1000:.1f} ms; {args.subscribers} subscribers: median "
              f"{many * 1000:.1f} ms ({many / args.subscribers * 1e6:.1f} us per feed)")
        check.ratio(f"median with {args.subscribers} subscribers / with one", many / one, at_most=TARGET_RATIO)
        check(not bad_answers, f"every answer 201 with its deliveries ({bad_answers[:3] or 'yes'})")
        facts = outcome(calls)
        expected = {name: calls * p["deliveries"] for name, p in producers.items()}
        check(facts["per_producer"] == expected, f"signals per producer {facts['per_producer']} (expected {expected})")
        check(facts["most"] == facts["least"] == calls,
              f"each of bench-many's subscribers holds {facts['least']}..{facts['most']} signals (expected {calls})")
        verify = stack.manage("verify_audit", check=False)
        check(verify.returncode == 0, "manage.py verify_audit: " + (verify.stdout or verify.stderr).strip()
              .replace("\n", " | "))
    return check.status()
