"""A few seconds' memory, in one worker process, of rows that every request
of a hot path reads and that operators change rarely (the instrument
whitelist, producer credentials, the JWT user). A shared-cache or database
round trip per request cost more than the rest of the lookup; the price is
that a change reaches the other workers only when their entry expires. The
process that made the change clears its own entries at once, so tests and
single-process servers see it immediately.
"""

import threading
import weakref
from collections.abc import Callable, Hashable
from time import monotonic

from django.db import transaction


class WorkerCache:
    instances: "weakref.WeakSet[WorkerCache]" = weakref.WeakSet()

    def __init__(self, seconds: Callable[[], float], *, max_entries: int = 1024):
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

    def changed(self) -> None:
        """A row it may keep changed in the caller's transaction: clear now,
        and again when that commits (a request in between may have kept what
        it read before the commit)."""
        self.clear()
        transaction.on_commit(self.clear)

    @classmethod
    def clear_all(cls) -> None:
        for instance in list(cls.instances):
            instance.clear()
