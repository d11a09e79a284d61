import argparse
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit import chain_status
from audit.verification import Checkpoint, verify_chain, verify_file

MAX_BATCH_SIZE = 10_000


def checkpoint_arg(text):
    try:
        return Checkpoint.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def batch_size_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"the batch size is an integer from 1 to {MAX_BATCH_SIZE}")
    return value


class Command(BaseCommand):
    help = ("Verify the audit chain: every hash, every link and seq 1..N without a gap. Exits 0 and prints "
            "the head, or exits 1 naming the first broken seq. Keep the printed head off this machine and pass "
            "it back with --checkpoint later: it catches entries cut off the end, which a chain alone cannot. "
            "With --file, checks a download of GET /api/v1/audit/export.jsonl instead, without the database.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", type=checkpoint_arg, metavar="SEQ:HASH",
                            help="fail unless entry SEQ still exists with this hash; with --file, a file that does "
                                 "not start at seq 1 must start at SEQ+1 (linking from HASH) or hold entry SEQ")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--batch-size", type=batch_size_arg, default=1000, metavar="N",
                            help="entries read per query (default 1000)")
        source.add_argument("--file", metavar="PATH",
                            help="verify this JSON Lines export (`-` for stdin) offline. Only an unfiltered "
                                 "export is a whole chain: a filter leaves entries out")

    def handle(self, *args, checkpoint=None, batch_size=1000, file=None, **options):
        if file is None:
            report, subject = verify_chain(batch_size=batch_size, checkpoint=checkpoint), "Audit chain"
            chain_status.remember(report, at=timezone.now())  # what the console shows until the next walk
        else:
            report, subject = self.verify_file(file, checkpoint), "Audit export"
        if not report.ok:
            raise CommandError(f"{subject} broken at seq {report.broken_seq}: {report.problem}.", returncode=1)
        if not report.verified:
            self.stdout.write(f"{subject} is empty.")
            return
        if report.first_seq == 1:
            self.stdout.write(f"{subject} intact: {report.verified} entries.")
        else:
            self.stdout.write(f"{subject} intact: entries {report.first_seq} to {report.verified}.")
        self.stdout.write(f"head seq={report.verified} hash={report.head_hash}")
        self.stdout.write(f"checkpoint: {report.verified}:{report.head_hash}")

    def verify_file(self, path, checkpoint):
        if path == "-":
            return verify_file(sys.stdin.buffer, checkpoint=checkpoint)
        try:
            with open(path, "rb") as lines:
                return verify_file(lines, checkpoint=checkpoint)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.", returncode=2) from None
