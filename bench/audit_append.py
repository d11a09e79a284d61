"""Cost of the audit entry: an audited action vs the same action unaudited, on PostgreSQL; target: ratio <= 1.5.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench audit_append

It works in a database of its own, created and dropped around the run with
Django's test-database utilities (`test_<name>` of DATABASE_URL, or
TEST_DATABASE_NAME), never in the database DATABASE_URL names.

(a) An audited action against the same action without its audit entry,
    5,000 sequential runs each: the action inserts a user row inside a
    transaction; the audited one also sends a domain event whose receiver
    appends the entry in that transaction. Target: ratio at most 1.5.
    The two kinds alternate in 50 rounds so that drift (cache warm-up, the
    tables growing, the load of a shared machine) weighs on both alike.
(b) 8 writer threads, each with its own connection, append 1,000 entries
    each at once: `verify_audit` must accept the chain with seq 1..8000 and
    no gap. It runs first, on the empty chain.
(c) 1,000 entries appended by one `append_entries` against 1,000
    `append_entry` calls, in one transaction each, 5 times: printed, no
    target (batch events, e.g. a bridge's fills, take the first way); then
    `verify_audit` must accept the whole chain.

--floor is a diagnosis (never checked): two more actions take turns with
(a)'s, each the plain action plus one statement: `SELECT 1` (what a bare
round trip costs) and the append's own statement with its parameters made
beforehand (what the audited action would cost if appending took no Python
at all).

Exits 1 if a writer fails, the chain has a gap or fails verification, or the
ratio misses its target.
"""

import io
import os
import statistics
import sys
import time
from functools import partial

from bench.harness import Checks, argument_parser, configure_in_process, test_database

SMOKE = ["--runs", "500", "--writers", "2", "--per-writer", "100", "--batch", "100"]


def concurrent_writers(writers, per_writer):
    from audit.services import append_entry
    from tests.concurrency import run_together

    def write(n):
        for i in range(per_writer):
            append_entry(action="bench.concurrent", target_type="writer", target_id=str(n), meta={"i": i})

    began = time.perf_counter()
    run_together([partial(write, n) for n in range(writers)])
    return time.perf_counter() - began


def sequential(runs, rounds, *, floor=False):
    """Seconds per round of each action, by name: `plain` and `audited`, and
    with `floor` the two diagnosis actions."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from signals import events

    User = get_user_model()

    def plain(i):
        with transaction.atomic():
            User.objects.create(username=f"plain-{i}")

    def audited(i):
        with transaction.atomic():
            user = User.objects.create(username=f"audited-{i}")
            events.producer_created.send(sender=User, target=user, meta={"username": user.username})

    actions = {"plain": plain, "audited": audited}
    if floor:
        actions.update(statement_floor(User, runs + 200))
    for i in range(200):  # warm-up: connection, statement caches, code paths
        for action in actions.values():
            action(f"warm-{i}")
    per_round = runs // rounds
    rounds_seconds = {name: [] for name in actions}
    for r in range(rounds):
        order = list(actions.items())
        for name, action in order if r % 2 == 0 else reversed(order):
            began = time.perf_counter()
            for i in range(r * per_round, (r + 1) * per_round):
                action(i)
            rounds_seconds[name].append(time.perf_counter() - began)
    return rounds_seconds


def batch_against_singles(size, repeat):
    """Seconds of each way of appending `size` entries in one transaction, `repeat` times, alternating."""
    from django.db import transaction

    from audit.services import append_entries, append_entry

    def fields(i):
        return {"action": "bench.batch", "target_type": "fill", "target_id": str(i),
                "meta": {"ticket": i, "volume": "0.10", "price": "1.08450"}}

    seconds = {"append_entries": [], "append_entry": []}
    for _ in range(repeat):
        began = time.perf_counter()
        with transaction.atomic():
            append_entries(entries=[fields(i) for i in range(size)])
        seconds["append_entries"].append(time.perf_counter() - began)
        began = time.perf_counter()
        with transaction.atomic():
            for i in range(size):
                append_entry(**fields(i))
        seconds["append_entry"].append(time.perf_counter() - began)
    return seconds


def statement_floor(User, count):
    """--floor's actions: the plain action plus a bare round trip, and plus
    the append statement with its parameters made beforehand (`count` sets:
    each entry needs an id of its own)."""
    import uuid

    from django.db import connection, transaction
    from django.utils import timezone

    from audit import chain, sql
    from audit.models import AuditEntry

    params = []
    for i in range(count):
        entry = AuditEntry(id=uuid.uuid4(), ts=timezone.now(), actor_type="system", action="producer.create",
                           target_type="user", target_id=str(uuid.uuid4()), status="success",
                           meta={"username": f"statement-{i}"})
        document = chain.entry_document(entry)
        params.append(sql.append_entry_params(document, chain.canonical_json_around_link(document)))

    def round_trip(i):
        with transaction.atomic():
            User.objects.create(username=f"round-trip-{i}")
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")

    def statement(i):
        with transaction.atomic():
            User.objects.create(username=f"statement-{i}")
            with connection.cursor() as cursor:
                cursor.execute(sql.APPEND_ENTRY, params.pop())

    return {"plain + round trip": round_trip, "plain + append statement": statement}


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--runs", type=int, default=5000, help="sequential actions of each kind (default 5000)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000, help="entries per batch in (c) (default 1000)")
    parser.add_argument("--floor", action="store_true",
                        help="diagnosis: also time a bare round trip and the append statement alone (never checked)")
    args = parser.parse_args(argv)
    configure_in_process()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from audit.models import AuditEntry
    from audit.verification import verify_chain

    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: DATABASE_URL=postgres://user@host:5432/name")
    check = Checks()
    with test_database():
        print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version})")

        total = args.writers * args.per_writer
        elapsed = concurrent_writers(args.writers, args.per_writer)
        seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
        out = io.StringIO()
        call_command("verify_audit", stdout=out)
        print(f"\n(b) {args.writers} concurrent writers x {args.per_writer} entries: {elapsed:.2f} s, "
              f"{total / elapsed:,.0f} appends/s")
        check(seqs == list(range(1, total + 1)), f"seq {seqs[0]}..{seqs[-1]}, {len(seqs)} entries, gapless")
        print("    verify_audit: " + out.getvalue().strip().replace("\n", "\n                  "))

        rounds_seconds = sequential(args.runs, rounds=50, floor=args.floor)
        plain, audited = sum(rounds_seconds["plain"]), sum(rounds_seconds["audited"])
        ratios = sorted(a / p for p, a in zip(rounds_seconds["plain"], rounds_seconds["audited"]))
        print(f"\n(a) {args.runs} sequential actions of each kind, in 50 alternating rounds "
              f"(after {total} entries already in the chain)")
        print(f"    without audit: {plain:.2f} s, {plain / args.runs * 1e6:,.0f} us per action")
        print(f"    with audit:    {audited:.2f} s, {audited / args.runs * 1e6:,.0f} us per action")
        print(f"    per round: min {ratios[0]:.2f}, median {statistics.median(ratios):.2f}, max {ratios[-1]:.2f}")
        for name in list(rounds_seconds)[2:]:
            seconds = sum(rounds_seconds[name])
            print(f"    diagnosis, {name}: {seconds / args.runs * 1e6:,.0f} us per action, "
                  f"{seconds / plain:.2f} x plain")
        print(f"    load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        check.ratio("ratio audited/plain:", audited / plain, at_most=1.5)

        batch = batch_against_singles(args.batch, repeat=5)
        print(f"\n(c) {args.batch} entries in one transaction, median of 5: "
              + ", ".join(f"{name} {statistics.median(times) * 1e3:,.1f} ms" for name, times in batch.items()))
        report = verify_chain()
        check(report.ok, f"verify_audit after (a) and (c): {report.verified} entries")
    return check.status()
