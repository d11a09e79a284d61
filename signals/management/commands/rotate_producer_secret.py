from machines.management.base import RotateSecretCommand
from signals import services
from signals.models import Producer


class Command(RotateSecretCommand):
    help = ("Issue a new secret for a producer. Its current secrets keep working for the grace period "
            "(default 86400 s), then stop.")
    model = Producer

    def rotate(self, client, *, grace_seconds):
        return services.rotate_producer_secret(producer=client, grace_seconds=grace_seconds)
