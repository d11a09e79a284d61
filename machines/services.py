"""The writes every kind of machine client shares: create one with its first
secret, rotate its secret, disable it. The app that owns the concrete model
wraps each in its own transaction and sends its own domain event there, so
the audit entry commits with the change or neither does."""

import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from machines import caches
from machines.crypto import encrypt
from machines.models import MachineClient

DEFAULT_GRACE_SECONDS = 86400


def _add_secret(client: MachineClient) -> str:
    secret = secrets.token_urlsafe(32)
    client.secret_model().objects.create(**{client.secret_owner_field(): client}, encrypted_secret=encrypt(secret))
    return secret


def create_client(*, model: type[MachineClient], name: str, owner, **fields) -> tuple[MachineClient, str]:
    """A new `model` client (`fields`: the concrete model's own columns) and
    its first secret, the only time the secret is available in clear."""
    with transaction.atomic():
        client = model.objects.create(name=name, owner=owner, key_id=f"{model.key_prefix}_{secrets.token_hex(12)}",
                                      **fields)
        secret = _add_secret(client)
    return client, secret


def rotate_secret(*, client: MachineClient, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> tuple[str, datetime]:
    """Issues a new secret; the live ones keep verifying for `grace_seconds`
    (0: they stop at once), never longer than they already would have.
    Returns the new secret and the end of the grace period."""
    if grace_seconds < 0:
        raise ValueError("grace_seconds must be >= 0")
    model = type(client)
    with transaction.atomic():
        now = timezone.now()
        grace_end = now + timedelta(seconds=grace_seconds)
        model.objects.select_for_update().filter(pk=client.pk).first()  # one rotation at a time
        live = client.secret_model().objects.live(now).filter(**{client.secret_owner_field(): client})
        live.filter(not_after__isnull=True).update(not_after=grace_end)
        live.filter(not_after__gt=grace_end).update(not_after=grace_end)
        # The new secret's save clears the credentials this worker keeps (machines/caches.py),
        # the retired secrets' new end of validity with them: the updates above send no signal.
        secret = _add_secret(client)
    return secret, grace_end


def disable_client(*, client: MachineClient) -> bool:
    """Its requests are refused from now on (401, like an unknown client).
    Returns whether this call disabled it (False: it already was)."""
    with transaction.atomic():
        updated = type(client).objects.filter(pk=client.pk, enabled=True).update(enabled=False,
                                                                                  disabled_at=timezone.now())
        client.refresh_from_db(fields=["enabled", "disabled_at"])
        if updated:
            caches.credentials.changed()  # a queryset update sends no post_save to do it
    return bool(updated)
