import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from signals import services
from signals.models import Producer
from core import request_context


class Command(BaseCommand):
    help = "Create a producer (strategy engine) and print its key id and secret. The secret is shown only now."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="username whose feed the producer's signals land in")
        parser.add_argument("--json", dest="as_json", action="store_true",
                            help='print only {"key_id": ..., "secret": ...}')

    def handle(self, *args, name, owner, as_json=False, **options):
        request_context.set_actor("system", "manage.py create_producer")
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user named {owner!r}.")
        if Producer.objects.filter(name=name).exists():
            raise CommandError(f"A producer named {name!r} already exists.")
        producer, secret = services.create_producer(name=name, owner=user)
        print_credentials(self.stdout, producer=producer, secret=secret, as_json=as_json,
                          intro=f"Producer {producer.name!r} created for {user.username}.")


def print_credentials(stdout, *, producer, secret, as_json, intro):
    """Shared by create_producer and rotate_producer_secret: automation reads
    the --json form, so it is the one object and nothing else."""
    if as_json:
        stdout.write(json.dumps({"key_id": producer.key_id, "secret": secret}))
        return
    stdout.write(intro)
    stdout.write(f"Key id: {producer.key_id}")
    stdout.write(f"Secret: {secret}")
    stdout.write("Store the secret now: it is not shown again.")
