from django.core.management.base import BaseCommand

from signals import services
from core import request_context


class Command(BaseCommand):
    help = ("Store `expired` on pending signals past their expires_at and audit each (the task engine "
            "does it every minute; this runs it now).")

    def handle(self, *args, **options):
        request_context.set_actor("system", "manage.py expire_signals")
        count = services.expire_signals()
        self.stdout.write(f"Expired {count} signal(s).")
