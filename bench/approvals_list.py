"""First page of one user's approvals with 100 vs 100,000 in the table, on PostgreSQL; target: ratio <= 1.5.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench approvals_list [--repeat 400]

The page of `GET /api/v1/approvals/` through the whole stack (JWT, filters,
cursor pagination, serialization), with 100 approvals in the database and
with 100,000 across 1,000 users. The target, a ratio of medians of at most
1.5, says the indexes make the page cost independent of the table's size.

The database named in DATABASE_URL is dropped and created afresh on every
run: point it at a dedicated database, never a real one. Both data sets live
in it side by side, in two schemas, and the requests alternate between them,
so a busy machine slows both cases alike instead of skewing the ratio. The
measured user (same id in both) has 100 approvals in each, so both pages hold
the same 50 rows; only everyone else's rows differ.
"""

import statistics
import time
import uuid
from datetime import timedelta

from bench.harness import Checks, argument_parser, configure_in_process, recreate_database, scratch_database_url

SMOKE = ["--repeat", "20"]
USERS = 1000
PER_USER = 100
SMALL, LARGE = "small", "large"  # the two schemas


def use_schema(schema: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {schema}")


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    """COPY is an order of magnitude faster than INSERTs for 100,000 rows."""
    with cursor.cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def load(schema: str, user_ids: list[uuid.UUID], *, per_user: int, now) -> None:
    """Users with `per_user` decided signals and their approvals each, spread
    over the last days like real traffic."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from signals.models import Instrument, Producer

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    use_schema(schema)
    call_command("migrate", verbosity=0)
    User = get_user_model()
    users = User.objects.bulk_create([User(id=pk, username=f"bench-{n:04d}", password="!")
                                      for n, pk in enumerate(user_ids)])
    producers = Producer.objects.bulk_create([Producer(name=f"bench-{u.username}", owner=u,
                                                       key_id=f"pk_bench_{u.username}") for u in users])
    instruments = list(Instrument.objects.values_list("pk", flat=True))
    signals, approvals = [], []
    for u, (user, producer) in enumerate(zip(users, producers)):
        for i in range(per_user):
            created = now - timedelta(seconds=(i * len(users) + u) * 3 + 60)
            signal_id, decision = uuid.uuid4(), ("approved", "rejected")[(u + i) % 2]
            signals.append((signal_id, user.pk, producer.pk, instruments[(u + i) % len(instruments)],
                            ("buy", "sell")[i % 2], created - timedelta(seconds=5), i + 1, "1.08450", "{}",
                            decision, created + timedelta(minutes=15), created - timedelta(seconds=2), created,
                            "0" * 64))
            approvals.append((uuid.uuid4(), signal_id, user.pk, decision, "1", "", "198.51.100.1",
                              "bench/1.0", created))
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor, "signals_signal",
                  ["id", "owner_id", "producer_id", "instrument_id", "side", "time", "version", "entry_price",
                   "payload", "status", "expires_at", "created_at", "updated_at", "fingerprint"], signals)
        copy_rows(cursor, "approvals_approval",
                  ["id", "signal_id", "user_id", "decision", "consent_version", "reason", "ip", "user_agent",
                   "created_at"], approvals)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(user, repeat: int) -> dict[str, list[float]]:
    """Wall times (ms) of `GET /api/v1/approvals/` as `user`, through the
    whole stack (JWT, filters, cursor pagination, serialization), the two
    schemas taking turns."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    samples = {SMALL: [], LARGE: []}
    for round_ in range(repeat + 100):  # the first 100 rounds warm caches and the interpreter
        for schema in ((SMALL, LARGE) if round_ % 2 else (LARGE, SMALL)):
            use_schema(schema)
            started = time.perf_counter()
            response = client.get("/api/v1/approvals/")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200 and len(response.json()["results"]) == 50
            if round_ >= 100:
                samples[schema].append(elapsed)
    return samples


def explain(user) -> str:
    from django.db import connection

    from approvals.selectors import visible_approvals

    sql, params = visible_approvals(user=user).order_by("-created_at", "-id")[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
        return "\n".join("    " + line for (line,) in cursor.fetchall())


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--repeat", type=int, default=400, help="timed requests per case (default 400)")
    args = parser.parse_args(argv)
    recreate_database(scratch_database_url())
    configure_in_process()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from approvals.models import Approval

    now, target_id = timezone.now(), uuid.uuid4()
    started = time.perf_counter()
    load(SMALL, [target_id], per_user=PER_USER, now=now)
    load(LARGE, [target_id] + [uuid.uuid4() for _ in range(USERS - 1)], per_user=PER_USER, now=now)
    totals = {schema: (use_schema(schema), Approval.objects.count())[1] for schema in (SMALL, LARGE)}
    loaded_s = time.perf_counter() - started

    target = get_user_model().objects.get(pk=target_id)
    samples = measure(target, args.repeat)
    median = {schema: statistics.median(values) for schema, values in samples.items()}

    print(f"first page (50 rows) of one user's approvals, {args.repeat} requests per case, alternating "
          f"[data loaded in {loaded_s:.1f} s]:")
    for schema in (SMALL, LARGE):
        print(f"  {totals[schema]:>7,} approvals in total: median {median[schema]:6.2f} ms, "
              f"min {min(samples[schema]):6.2f} ms")
    for schema in (SMALL, LARGE):
        use_schema(schema)
        print(f"query plan with {totals[schema]:,} approvals:\n{explain(target)}")
    check = Checks()
    check.ratio("ratio of medians", median[LARGE] / median[SMALL], at_most=1.5)
    return check.status()
