"""Reads of the signals app: which signals a user may see, and the status
filter that treats a pending signal past its expiry as expired."""

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from machines import selectors as machine_selectors
from signals import caches
from signals.models import Instrument, Producer, Signal


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
    every ingestion checks (kept as signals/caches.py says; with the cache
    down, read from the database)."""
    whitelist = caches.whitelist.get(_enabled_instruments)
    symbol = symbol.strip().upper()
    if symbol not in whitelist:
        return None
    pk, digits = whitelist[symbol]
    return _from_row(Instrument, {"id": pk, "symbol": symbol, "enabled": True, "digits": digits})


def _enabled_instruments() -> dict[str, tuple[int, int]]:
    # Plain tuples: unpickling model instances on every request cost more than the lookup.
    return {symbol: (pk, digits) for pk, symbol, digits
            in Instrument.objects.filter(enabled=True).values_list("pk", "symbol", "digits")}


def live_credentials(key_id: str, *, now=None, fresh=False) -> tuple[Producer | None, list[str]]:
    """The producer of `key_id` and its live secrets (machines/selectors.py)."""
    return machine_selectors.live_credentials(Producer, key_id, now=now, fresh=fresh)


def _from_row(model, values: dict):
    """A model instance of some columns, as the ORM would build it (the
    values converted as its fields do; SQLite returns UUIDs as text)."""
    fields = [f for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, [f.attname for f in fields],
                         [f.to_python(values[f.attname]) for f in fields])
