from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from machines.crypto import reencrypt
from machines.models import MachineSecret


class Command(BaseCommand):
    help = ("Re-encrypt every stored machine client secret (producers', bridges') with the first "
            "FIELD_ENCRYPTION_KEYS key; after it, the older keys can be removed from the list.")

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for model in apps.get_models():
                if not issubclass(model, MachineSecret):
                    continue
                for secret in model.objects.select_for_update().only("id", "encrypted_secret"):
                    secret.encrypted_secret = reencrypt(secret.encrypted_secret)
                    secret.save(update_fields=["encrypted_secret"])
                    count += 1
        self.stdout.write(f"Re-encrypted {count} secret(s).")
