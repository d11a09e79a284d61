from execution import services
from execution.models import Bridge
from machines.management.base import RotateSecretCommand


class Command(RotateSecretCommand):
    help = ("Issue a new secret for a bridge. Its current secrets keep working for the grace period "
            "(default 86400 s), then stop.")
    model = Bridge

    def rotate(self, client, *, grace_seconds):
        return services.rotate_bridge_secret(bridge=client, grace_seconds=grace_seconds)
