from django.core.management.base import BaseCommand
from django.db import transaction

from signals.crypto import reencrypt
from signals.models import ProducerSecret


class Command(BaseCommand):
    help = ("Re-encrypt every stored producer secret with the first FIELD_ENCRYPTION_KEYS key; after it, "
            "the older keys can be removed from the list.")

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for secret in ProducerSecret.objects.select_for_update().only("id", "encrypted_secret"):
                secret.encrypted_secret = reencrypt(secret.encrypted_secret)
                secret.save(update_fields=["encrypted_secret"])
                count += 1
        self.stdout.write(f"Re-encrypted {count} secret(s).")
