"""Reads of the signals app: which signals a user may see, and the status
filter that treats a pending signal past its expiry as expired."""

import time

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from signals.models import Instrument, Producer, ProducerSecret, Signal

WHITELIST_CACHE_KEY = "signals:whitelist"
# Saving an instrument clears the cached whitelist when it commits; the
# timeout only bounds the rare race of a reader refilling it with the rows
# it read just before that commit.
WHITELIST_CACHE_SECONDS = 10
# Each worker process also keeps the whitelist this long: the Redis read was
# half the cost of validating a signal. So an instrument an operator disables
# is refused within this many seconds by every worker (at once by the one
# that saved the change).
WHITELIST_LOCAL_SECONDS = 2
_local_whitelist: tuple[float, dict | None] = (0.0, None)  # (monotonic expiry, whitelist); replaced whole


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
    global _local_whitelist
    expiry, whitelist = _local_whitelist
    now = time.monotonic()
    if whitelist is not None and now < expiry:
        return whitelist
    whitelist = cache.get(WHITELIST_CACHE_KEY)
    if whitelist is None:
        # Plain tuples: unpickling model instances on every request cost more than the lookup.
        whitelist = {symbol: (pk, digits) for pk, symbol, digits
                     in Instrument.objects.filter(enabled=True).values_list("pk", "symbol", "digits")}
        cache.set(WHITELIST_CACHE_KEY, whitelist, timeout=WHITELIST_CACHE_SECONDS)
    _local_whitelist = (now + WHITELIST_LOCAL_SECONDS, whitelist)
    return whitelist


def forget_whitelist() -> None:
    global _local_whitelist
    _local_whitelist = (0.0, None)
    cache.delete(WHITELIST_CACHE_KEY)


PRODUCER_COLUMNS = ["id", "name", "key_id", "enabled", "owner_id"]


def producer_credentials(key_id: str, *, now=None) -> tuple[Producer | None, list[str]]:
    """The producer of `key_id` (with its owner's username loaded) and its
    live secrets, still encrypted; (None, []) when it has no live secret.

    Every signed request runs this first, so it is one hand-written query:
    building it with the ORM cost more CPU than the rest of authentication."""
    user_model = get_user_model()
    sql = (
        f"SELECT s.encrypted_secret, {', '.join('p.' + c for c in PRODUCER_COLUMNS)}, u.username"
        f" FROM {ProducerSecret._meta.db_table} s"
        f" JOIN {Producer._meta.db_table} p ON p.id = s.producer_id"
        f" JOIN {user_model._meta.db_table} u ON u.{user_model._meta.pk.column} = p.owner_id"
        " WHERE p.key_id = %s AND (s.not_after IS NULL OR s.not_after > %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_id, connection.ops.adapt_datetimefield_value(now or timezone.now())])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    first = rows[0]
    producer = _from_row(Producer, dict(zip(PRODUCER_COLUMNS, first[1:-1])))
    producer.owner = _from_row(user_model, {user_model._meta.pk.attname: producer.owner_id, "username": first[-1]})
    return producer, [row[0] for row in rows]


def _from_row(model, values: dict):
    """A model instance of some columns, as the ORM would build it (the
    values converted as its fields do; SQLite returns UUIDs as text)."""
    fields = [f for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, [f.attname for f in fields],
                         [f.to_python(values[f.attname]) for f in fields])
