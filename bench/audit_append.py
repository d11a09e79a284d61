"""Benchmark (issue 3): what the audit append costs, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_audit .venv/bin/python bench/audit_append.py

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
"""

import argparse
import io
import os
import statistics
import sys
import threading
import time

import common

common.configure_in_process()


def concurrent_writers(writers, per_writer):
    from django.db import connection

    from audit.services import append_entry

    start, errors = threading.Barrier(writers), []

    def write(n):
        try:
            start.wait()
            for i in range(per_writer):
                append_entry(action="bench.concurrent", target_type="writer", target_id=str(n), meta={"i": i})
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, errors


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000, help="sequential actions of each kind (default 5000)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=1000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from audit.models import AuditEntry

    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: DATABASE_URL=postgres://user@host:5432/name")
    original_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        print(f"database: {connection.settings_dict['NAME']} (PostgreSQL {connection.pg_version})")

        total = args.writers * args.per_writer
        elapsed, errors = concurrent_writers(args.writers, args.per_writer)
        seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
        out = io.StringIO()
        call_command("verify_audit", stdout=out)
        print(f"\n(b) {args.writers} concurrent writers x {args.per_writer} entries: {elapsed:.2f} s, "
              f"{total / elapsed:,.0f} appends/s, errors: {len(errors)}")
        print(f"    seq {seqs[0]}..{seqs[-1]}, {len(seqs)} entries, gapless: {seqs == list(range(1, total + 1))}")
        print("    verify_audit: " + out.getvalue().strip().replace("\n", "\n                  "))

        rounds_seconds = sequential(args.runs, rounds=50)
        plain, audited = (sum(column) for column in zip(*rounds_seconds))
        ratios = sorted(a / p for p, a in rounds_seconds)
        print(f"\n(a) {args.runs} sequential actions of each kind, in 50 alternating rounds "
              f"(after {total} entries already in the chain)")
        print(f"    without audit: {plain:.2f} s, {plain / args.runs * 1e6:,.0f} us per action")
        print(f"    with audit:    {audited:.2f} s, {audited / args.runs * 1e6:,.0f} us per action")
        print(f"    ratio audited/plain: {audited / plain:.2f} (target <= 1.5); per round: min {ratios[0]:.2f}, "
              f"median {statistics.median(ratios):.2f}, max {ratios[-1]:.2f}")
        print(f"    load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        if errors or seqs != list(range(1, total + 1)):
            sys.exit(1)
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)


if __name__ == "__main__":
    main()
