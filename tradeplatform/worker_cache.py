"""A few seconds' memory, in one worker process, of rows that every request
of a hot path reads and that operators change rarely (the instrument
whitelist, producer credentials, the JWT user). A shared-cache or database
round trip per request cost more than the rest of the lookup; the price is
that a change reaches the other workers only when their entry expires. The
process that made the change clears its own entries at once, so tests and
single-process servers see it immediately.
"""

from collections.abc import Callable, Hashable
from time import monotonic


class WorkerCache:
    instances: list["WorkerCache"] = []

    def __init__(self, seconds: Callable[[], float], *, max_entries: int = 1024):
        # A callable, so that settings overridden in tests apply.
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, object]] = {}
        WorkerCache.instances.append(self)

    def get(self, key: Hashable, load: Callable[[], object], *, keep: Callable[[object], bool] = bool):
        """The value kept for `key`, or `load()`'s, kept if `keep(value)`:
        a lookup that found nothing is not kept, so made-up keys cannot
        fill the memory or hide a row created a moment later."""
        now = monotonic()
        entry = self._entries.get(key)
        if entry is not None and now < entry[0]:
            return entry[1]
        value = load()
        seconds = self.seconds()
        if seconds > 0 and keep(value):
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # a bound, not an LRU: the hot set refills in one round
            self._entries[key] = (now + seconds, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    @classmethod
    def clear_all(cls) -> None:
        for instance in cls.instances:
            instance.clear()
