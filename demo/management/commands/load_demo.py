from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import request_context
from demo import decisions, execution, market_data, signal_feed

DEMO_USERS = [
    # username, password, is_staff
    ("operator", "operator-demo-pass", True),
    ("trader", "trader-demo-pass", False),
]

# The demo data, loaded in this order because each builds on the ones before:
# the trader's producer and signals, then candles and equity under them, then
# the trader's bridge (its account's history follows the equity), then
# decisions on some of the signals, whose approvals become orders for that
# bridge. Each is `load(*, stdout, users)`.
LOADERS = [signal_feed.load, market_data.load, execution.load, decisions.load]


class Command(BaseCommand):
    help = "Load demo users and data for a local try-out. Safe to run repeatedly."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true",
                            help="allow running with DEBUG off (the demo passwords are public)")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("load_demo creates users with published passwords; it runs only with DEBUG on "
                               "(or with --force on a throwaway database).")
        request_context.set_actor("system", "load_demo")
        User = get_user_model()
        users = {}
        with transaction.atomic():
            for username, password, is_staff in DEMO_USERS:
                user, _ = User.objects.get_or_create(username=username,
                                                     defaults={"email": f"{username}@example.com"})
                user.is_staff = user.is_superuser = is_staff
                user.set_password(password)
                user.save()
                users[username] = user
            for load in LOADERS:
                load(stdout=self.stdout, users=users)

        self.stdout.write(self.style.SUCCESS("Demo data loaded. Log in with:"))
        for username, password, is_staff in DEMO_USERS:
            role = "staff (admin console)" if is_staff else "trader (API)"
            self.stdout.write(f"  {username} / {password}   {role}")
