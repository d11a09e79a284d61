"""Reads of the signals app: which signals a user may see, and the status
filter that treats a pending signal past its expiry as expired."""

import copy

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from signals.crypto import decrypt
from signals.models import Instrument, Producer, ProducerSecret, Signal
from core.worker_cache import WorkerCache

WHITELIST_CACHE_KEY = "signals:whitelist"
# Saving an instrument clears the cached whitelist when it commits; the
# timeout only bounds the rare race of a reader refilling it with the rows
# it read just before that commit.
WHITELIST_CACHE_SECONDS = 10
# Each worker also keeps the whitelist and producers' credentials for
# WORKER_CACHE_SECONDS: the Redis read was half the cost of validating a
# signal, the credentials query a fifth of a signed request's database work.
_local_whitelist = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS)
_local_credentials = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS)


def signal_queryset() -> QuerySet[Signal]:
    """Everything the signal resource shows, in one query per page."""
    return Signal.objects.select_related("owner", "producer", "instrument", "approval")


def visible_signals(*, user) -> QuerySet[Signal]:
    """The user's own feed; staff see every feed."""
    queryset = signal_queryset()
    return queryset if user.is_staff else queryset.filter(owner=user)


def with_effective_status(queryset: QuerySet[Signal], status: str, *, now=None) -> QuerySet[Signal]:
    now = now or timezone.now()
    if status == Signal.Status.PENDING:
        return queryset.filter(status=Signal.Status.PENDING, expires_at__gt=now)
    if status == Signal.Status.EXPIRED:
        return queryset.filter(Q(status=Signal.Status.EXPIRED) | Q(status=Signal.Status.PENDING, expires_at__lte=now))
    return queryset.filter(status=status)


def enabled_instrument(symbol: str) -> Instrument | None:
    """The enabled instrument of that symbol (any case), from the whitelist
    every ingestion checks, kept in the shared cache (signals/apps.py clears it
    when an instrument changes) and briefly in each worker. With the cache
    down, it reads the database."""
    whitelist = _whitelist()
    symbol = symbol.strip().upper()
    if symbol not in whitelist:
        return None
    pk, digits = whitelist[symbol]
    return _from_row(Instrument, {"id": pk, "symbol": symbol, "enabled": True, "digits": digits})


def _whitelist() -> dict:
    return _local_whitelist.get(WHITELIST_CACHE_KEY, _shared_whitelist)


def _shared_whitelist() -> dict:
    whitelist = cache.get(WHITELIST_CACHE_KEY)
    if whitelist is None:
        # Plain tuples: unpickling model instances on every request cost more than the lookup.
        whitelist = {symbol: (pk, digits) for pk, symbol, digits
                     in Instrument.objects.filter(enabled=True).values_list("pk", "symbol", "digits")}
        cache.set(WHITELIST_CACHE_KEY, whitelist, timeout=WHITELIST_CACHE_SECONDS)
    return whitelist


def forget_whitelist() -> None:
    _local_whitelist.clear()
    cache.delete(WHITELIST_CACHE_KEY)


def live_credentials(key_id: str, *, now=None, fresh=False) -> tuple[Producer | None, list[str]]:
    """The producer of `key_id` and its live secrets, decrypted; (None, [])
    when it has no live secret. Kept by each worker (see above) with each
    secret's end of validity as it was read, so a secret stops verifying on
    time unless its end was set after the read (a rotation in another
    process: within WORKER_CACHE_SECONDS). `fresh` reads the database even
    when this worker keeps the key. Services that change a producer or its
    secrets call `forget_credentials`."""
    now = now or timezone.now()
    if fresh:
        _local_credentials.forget(key_id)
    producer, secrets = _local_credentials.get(key_id, lambda: _decrypted_credentials(key_id, now),
                                               keep=lambda found: found[0] is not None)
    live = [secret for secret, not_after in secrets if not_after is None or not_after > now]
    # A copy: what one request sets on its producer stays in that request.
    return (copy.copy(producer), live) if live else (None, [])


def forget_credentials() -> None:
    _local_credentials.changed()


def _decrypted_credentials(key_id: str, now) -> tuple[Producer | None, list[tuple[str, object]]]:
    secrets = list(ProducerSecret.objects.live(now).filter(producer__key_id=key_id).select_related("producer__owner"))
    if not secrets:
        return None, []
    return secrets[0].producer, [(decrypt(secret.encrypted_secret), secret.not_after) for secret in secrets]


def _from_row(model, values: dict):
    """A model instance of some columns, as the ORM would build it (the
    values converted as its fields do; SQLite returns UUIDs as text)."""
    fields = [f for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, [f.attname for f in fields],
                         [f.to_python(values[f.attname]) for f in fields])
