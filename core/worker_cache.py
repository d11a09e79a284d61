"""What workers keep of what every request of a hot path reads (the
instrument whitelist, machine clients' credentials, the JWT user and its
verified access token, chart images by their data version), and the one way
it is cleared when the rows behind it change.

Each worker keeps what it read for a few seconds: a shared-cache or database
round trip per request cost more than the rest of the lookup. The price is
that a change reaches the other workers only when their entry expires; the
process that made the change clears its own at once, so tests and
single-process servers see it immediately.

An app declares what it keeps in its `caches.py`, each cache with the models
whose rows it holds (`invalidated_by`), and its `apps.py` connects each one
with `flush_on_change()`: every save or delete of such a row calls the
cache's `changed()`, which clears it at once and again when the transaction
commits. A write that sends no model signal (a queryset `update()`) calls
`changed()` itself. A value that every worker reloads after a change can be
kept in the shared cache too (`SharedCacheEntry`), cleared the same way.
"""

import threading
import weakref
from collections.abc import Callable, Hashable
from time import monotonic

from django.apps import apps
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save


class Flushable:
    """Something kept that a change of a row of `invalidated_by` (models;
    an abstract model stands for each of its concrete subclasses) makes
    stale."""

    def __init__(self, *, invalidated_by: tuple[type[models.Model], ...] = ()):
        self.invalidated_by = invalidated_by

    def clear(self) -> None:
        raise NotImplementedError

    def changed(self) -> None:
        """A row it may keep changed in the caller's transaction: clear now,
        and again when that commits (a request in between may have kept what
        it read before the commit)."""
        self.clear()
        transaction.on_commit(self.clear)


def flush_on_change(kept: Flushable, *, dispatch_uid: str) -> None:
    """Calls `kept.changed()` on every post_save and post_delete of its
    `invalidated_by` models. For an app's `ready()`: the models must be loaded."""

    def flush(sender, **kwargs):
        kept.changed()

    for model in _concrete(kept.invalidated_by):
        post_save.connect(flush, sender=model, weak=False, dispatch_uid=dispatch_uid)
        post_delete.connect(flush, sender=model, weak=False, dispatch_uid=dispatch_uid)


def _concrete(invalidated_by):
    for model in invalidated_by:
        if model._meta.abstract:
            yield from (concrete for concrete in apps.get_models() if issubclass(concrete, model))
        else:
            yield model


class WorkerCache(Flushable):
    """Values by key, kept by this worker for `seconds()`."""

    instances: "weakref.WeakSet[WorkerCache]" = weakref.WeakSet()

    def __init__(self, seconds: Callable[[], float], *, max_entries: int = 1024,
                 invalidated_by: tuple[type[models.Model], ...] = ()):
        super().__init__(invalidated_by=invalidated_by)
        # A callable, so that settings overridden in tests apply.
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, object]] = {}
        # Bumped by clear(): a value loaded before a clear is not kept after
        # it (another thread may have read the row just before the change).
        self._generation = 0
        self._lock = threading.Lock()
        WorkerCache.instances.add(self)

    def get(self, key: Hashable, load: Callable[[], object], *, keep: Callable[[object], bool] = bool):
        """The value kept for `key`, or `load()`'s, kept if `keep(value)`:
        a lookup that found nothing is not kept, so made-up keys cannot
        fill the memory or hide a row created a moment later."""
        now = monotonic()
        entry = self._entries.get(key)
        if entry is not None and now < entry[0]:
            return entry[1]
        generation = self._generation
        value = load()
        seconds = self.seconds()
        if seconds > 0 and keep(value):
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()  # a bound, not an LRU: the hot set refills in one round
                    self._entries[key] = (now + seconds, value)
        return value

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    @classmethod
    def clear_all(cls) -> None:
        for instance in list(cls.instances):
            instance.clear()


class SharedCacheEntry(Flushable):
    """One value every worker reads, kept in the shared cache for `seconds`
    (after a change, one database read serves every worker) and, in front
    of it, by each worker for `worker_seconds()`."""

    def __init__(self, key: str, *, seconds: float, worker_seconds: Callable[[], float],
                 invalidated_by: tuple[type[models.Model], ...] = ()):
        super().__init__(invalidated_by=invalidated_by)
        self.key = key
        self.seconds = seconds
        self._worker = WorkerCache(worker_seconds, max_entries=1)

    def get(self, load: Callable[[], object]):
        """The value this worker keeps, else the shared cache's, else
        `load()`'s, stored in the shared cache (with that down, the value
        is `load()`'s). An empty value is not kept by the worker."""
        return self._worker.get(self.key, lambda: self._shared(load))

    def _shared(self, load: Callable[[], object]):
        value = cache.get(self.key)
        if value is None:
            value = load()
            cache.set(self.key, value, timeout=self.seconds)
        return value

    def clear(self) -> None:
        # The shared copy first: a worker refilling between the two would
        # otherwise copy the old value back into its own.
        cache.delete(self.key)
        self._worker.clear()
