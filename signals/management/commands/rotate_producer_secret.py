from django.core.management.base import BaseCommand, CommandError

from signals import services
from signals.management.commands.create_producer import print_credentials
from signals.models import Producer
from core import request_context


class Command(BaseCommand):
    help = ("Issue a new secret for a producer. Its current secrets keep working for the grace period "
            "(default 86400 s), then stop.")

    def add_arguments(self, parser):
        parser.add_argument("key_id")
        parser.add_argument("--grace-seconds", type=int, default=services.DEFAULT_GRACE_SECONDS,
                            help="how long the current secrets keep working (0: stop now)")
        parser.add_argument("--json", dest="as_json", action="store_true",
                            help='print only {"key_id": ..., "secret": ...}')

    def handle(self, *args, key_id, grace_seconds, as_json=False, **options):
        request_context.set_actor("system", "manage.py rotate_producer_secret")
        if grace_seconds < 0:
            raise CommandError("--grace-seconds must be 0 or more.")
        producer = Producer.objects.filter(key_id=key_id).first()
        if producer is None:
            raise CommandError(f"No producer with key id {key_id!r}.")
        if not producer.enabled:
            raise CommandError(f"Producer {producer.name!r} is disabled.")
        secret = services.rotate_producer_secret(producer=producer, grace_seconds=grace_seconds)
        print_credentials(self.stdout, producer=producer, secret=secret, as_json=as_json,
                          intro=f"New secret for {producer.name!r}; the previous ones stop working "
                                f"in {grace_seconds} s.")
