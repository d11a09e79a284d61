from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import request_context

DEMO_USERS = [
    # username, password, is_staff
    ("operator", "operator-demo-pass", True),
    ("trader", "trader-demo-pass", False),
]

# Each app may add its own demo data in `<app>/demo.py: load(*, stdout, users)`,
# run in this order because each builds on the one before.
DEMO_APPS = ["signals", "approvals", "charting"]


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
            for app in DEMO_APPS:
                try:
                    demo = import_module(f"{app}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{app}.demo":
                        raise
                    continue
                demo.load(stdout=self.stdout, users=users)

        self.stdout.write(self.style.SUCCESS("Demo data loaded. Log in with:"))
        for username, password, is_staff in DEMO_USERS:
            role = "staff (admin console)" if is_staff else "trader (API)"
            self.stdout.write(f"  {username} / {password}   {role}")
