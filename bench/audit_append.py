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

Exits 1 if a writer fails, the chain has a gap or the ratio misses its target.
"""

import io
import os
import statistics
import sys
import time
from functools import partial

from bench.harness import Checks, argument_parser, configure_in_process, test_database

SMOKE = ["--runs", "500", "--writers", "2", "--per-writer", "100"]


def concurrent_writers(writers, per_writer):
    from audit.services import append_entry
    from tests.concurrency import run_together

    def write(n):
        for i in range(per_writer):
            append_entry(action="bench.concurrent", target_type="writer", target_id=str(n), meta={"i": i})

    began = time.perf_counter()
    run_together([partial(write, n) for n in range(writers)])
    return time.perf_counter() - began


def sequential(runs, rounds):
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

    for i in range(200):  # warm-up: connection, statement caches, code paths
        plain(f"warm-{i}")
        audited(f"warm-{i}")
    per_round = runs // rounds
    rounds_seconds = []  # (plain, audited) per round
    for r in range(rounds):
        seconds = {}
        for action in (plain, audited) if r % 2 == 0 else (audited, plain):
            began = time.perf_counter()
            for i in range(r * per_round, (r + 1) * per_round):
                action(i)
            seconds[action] = time.perf_counter() - began
        rounds_seconds.append((seconds[plain], seconds[audited]))
    return rounds_seconds


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--runs", type=int, default=5000, help="sequential actions of each kind (default 5000)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=1000)
    args = parser.parse_args(argv)
    configure_in_process()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from audit.models import AuditEntry

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

        rounds_seconds = sequential(args.runs, rounds=50)
        plain, audited = (sum(column) for column in zip(*rounds_seconds))
        ratios = sorted(a / p for p, a in rounds_seconds)
        print(f"\n(a) {args.runs} sequential actions of each kind, in 50 alternating rounds "
              f"(after {total} entries already in the chain)")
        print(f"    without audit: {plain:.2f} s, {plain / args.runs * 1e6:,.0f} us per action")
        print(f"    with audit:    {audited:.2f} s, {audited / args.runs * 1e6:,.0f} us per action")
        print(f"    per round: min {ratios[0]:.2f}, median {statistics.median(ratios):.2f}, max {ratios[-1]:.2f}")
        print(f"    load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        check.ratio("ratio audited/plain:", audited / plain, at_most=1.5)
    return check.status()
