"""Reads of machine clients: the credentials every signed request checks."""

import copy

from django.utils import timezone

from machines import caches
from machines.crypto import decrypt
from machines.models import MachineClient


def live_credentials(model: type[MachineClient], key_id: str, *, now=None,
                     fresh=False) -> tuple[MachineClient | None, list[str]]:
    """The client of `model` with `key_id` and its live secrets, decrypted;
    (None, []) when it has no live secret. Kept by each worker
    (machines/caches.py) with each secret's end of validity as it was read,
    so a secret stops verifying on time unless its end was set after the read
    (a rotation in another process: within WORKER_CACHE_SECONDS). `fresh`
    reads the database even when this worker keeps the key."""
    now = now or timezone.now()
    cache_key = (model._meta.label, key_id)
    if fresh:
        caches.credentials.forget(cache_key)
    client, secrets = caches.credentials.get(cache_key, lambda: _decrypted_credentials(model, key_id, now),
                                             keep=lambda found: found[0] is not None)
    live = [secret for secret, not_after in secrets if not_after is None or not_after > now]
    # A copy: what one request sets on its client stays in that request.
    return (copy.copy(client), live) if live else (None, [])


def _decrypted_credentials(model: type[MachineClient], key_id: str,
                           now) -> tuple[MachineClient | None, list[tuple[str, object]]]:
    client_field = model.secret_owner_field()
    secrets = list(model.secret_model().objects.live(now).filter(**{f"{client_field}__key_id": key_id})
                   .select_related(f"{client_field}__owner"))
    if not secrets:
        return None, []
    client = getattr(secrets[0], client_field)
    return client, [(decrypt(secret.encrypted_secret), secret.not_after) for secret in secrets]
