"""`manage.py recompute_analytics [--apply]`: every rollup recomputed from
the records and compared with the stored ones (analytics/services.py).
Exit status 1 when they differ (each difference printed), 0 when they agree;
with --apply the recomputed rollups replace the stored ones."""

from django.core.management.base import BaseCommand, CommandError

from analytics import services


class Command(BaseCommand):
    help = "Recompute the analytics rollups from the records and report (or, with --apply, repair) differences."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true",
                            help="replace the stored rollups with the recomputed ones (locks every bridge while "
                                 "it runs)")

    def handle(self, *args, apply=False, **options):
        differences = services.recompute(apply=apply)
        for line in differences:
            self.stdout.write(line)
        if not differences:
            self.stdout.write("The rollups agree with the records.")
            return
        if apply:
            self.stdout.write(f"{len(differences)} differences: the rollups were recomputed from the records.")
            return
        raise CommandError(f"{len(differences)} differences between the rollups and the records "
                           f"(--apply recomputes them).")
