"""Rate limits. Counters live in the shared cache, so all worker processes
count against one budget; with Redis down they fail open rather than refusing
every request.

On Redis a budget is a fixed-window counter, taken in slices: a worker
process takes a slice of a principal's budget with one script call (INCRBY,
and the window's expiry set when it has none) and spends it locally, so a
busy principal costs one round trip per slice instead of one per request (a
Redis round trip was 6% of a signed ingestion's cost). A slice is 1% of the
budget, at least one request: budgets of under 200 requests per window are
counted request by request. The budget is never exceeded; a slice a worker
still holds when the window ends goes unused, so a principal spreading its
requests over several workers may be refused up to 1% per worker early.

A window starts at the principal's first request and lasts the rate's
period, so a burst straddling two windows can reach twice the rate for a
moment: the price of O(1) state, and the rates are abuse limits, not quotas.
Other caches (the local-memory one of tests and single-process setups) keep
DRF's sliding log.
"""

import logging
import threading
from time import monotonic

from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from core.client_ip import budget_address, client_ip

logger = logging.getLogger(__name__)

SLICES_PER_BUDGET = 100
# Atomic in Redis: a counter never exists without its window's expiry (an
# INCRBY on a key that expired a moment earlier creates one without any).
# Returns the count and the milliseconds left in the window.
TAKE_SLICE_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local remaining = redis.call('PTTL', KEYS[1])
if remaining < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    remaining = tonumber(ARGV[1])
end
return {count, remaining}
"""
# This process's slices: counter key -> [monotonic end of its window, requests left].
_slices: dict[str, list] = {}
_slices_lock = threading.Lock()
MAX_SLICES = 10_000  # forgetting a slice only ever refuses early, never admits more


def forget_slices() -> None:
    """With the counters they were taken from gone (tests clearing the cache)."""
    with _slices_lock:
        _slices.clear()


def principal_ident(request) -> str:
    user = request.user
    if user is not None and user.is_authenticated:
        return f"{type(user).__name__.lower()}:{user.pk}"
    return f"ip:{budget_address(client_ip(request))}"


class ScopedThrottle(SimpleRateThrottle):
    """A budget per principal (user, producer, or else client address) for the
    rate named by `scope` in `DEFAULT_THROTTLE_RATES`."""

    # Seconds until the window that refused the request ends (Retry-After).
    window_wait = None

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": principal_ident(request)}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        # `key` as DRF sets it: callers derive keys of their own from it.
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            redis = get_redis_connection()
        except NotImplementedError:  # not django-redis
            return super().allow_request(request, view)
        # Its own key: an INCR on a history list DRF left behind would fail.
        return self._allow_in_window(redis, self.cache.make_key(f"{self.key}:window"))

    def _allow_in_window(self, redis, key) -> bool:
        with _slices_lock:
            held = _slices.get(key)
            if held is not None and held[1] > 0 and monotonic() < held[0]:
                held[1] -= 1
                return True
        size = max(1, self.num_requests // SLICES_PER_BUDGET)
        asked = monotonic()  # the slice ends with Redis's window, never after it
        try:
            count, remaining_ms = _take_slice(redis, key, int(self.duration * 1000), size)
        except RedisError:
            logger.warning("rate-limit counters unavailable; allowing the request", extra={"scope": self.scope})
            return True
        granted = min(size, self.num_requests - (count - size))
        if granted <= 0:
            self.window_wait = remaining_ms / 1000
            return False
        with _slices_lock:
            if len(_slices) >= MAX_SLICES:
                _slices.clear()
            _slices[key] = [asked + remaining_ms / 1000, granted - 1]
        return True

    def wait(self):
        return self.window_wait if self.window_wait is not None else super().wait()


class UserThrottle(ScopedThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        return super().get_cache_key(request, view) if request.user.is_authenticated else None


class AnonThrottle(ScopedThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        return None if request.user.is_authenticated else super().get_cache_key(request, view)


_take_slice_script = None  # redis-py's Script: EVALSHA, loading the script into Redis when missing


def _take_slice(redis, key: str, window_ms: int, size: int) -> tuple[int, int]:
    global _take_slice_script
    if _take_slice_script is None:
        _take_slice_script = redis.register_script(TAKE_SLICE_SCRIPT)
    count, remaining_ms = _take_slice_script(keys=[key], args=[window_ms, size], client=redis)
    return count, remaining_ms
