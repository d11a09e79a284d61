import argparse

from django.core.management.base import BaseCommand, CommandError

from audit.verification import Checkpoint, verify_chain

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
            "it back with --checkpoint later: it catches entries cut off the end, which a chain alone cannot.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", type=checkpoint_arg, metavar="SEQ:HASH",
                            help="fail unless entry SEQ still exists with this hash")
        parser.add_argument("--batch-size", type=batch_size_arg, default=1000, metavar="N",
                            help="entries read per query (default 1000)")

    def handle(self, *args, checkpoint=None, batch_size=1000, **options):
        report = verify_chain(batch_size=batch_size, checkpoint=checkpoint)
        if not report.ok:
            raise CommandError(f"Audit chain broken at seq {report.broken_seq}: {report.problem}.", returncode=1)
        if not report.verified:
            self.stdout.write("Audit chain is empty.")
            return
        self.stdout.write(f"Audit chain intact: {report.verified} entries.")
        self.stdout.write(f"head seq={report.verified} hash={report.head_hash}")
        self.stdout.write(f"checkpoint: {report.verified}:{report.head_hash}")
