"""Rate limits. Counters live in the shared cache, so all worker processes
count against one budget; with Redis down they fail open rather than refusing
every request.

On Redis a budget is a fixed-window counter: one pipelined SET NX PX + INCR +
PTTL, a single round trip with no (un)pickling, where DRF's sliding log costs a
GET and a SET of the whole history on every request (every API call, including
each cached chart, pays for this). A window starts at the principal's first
request and lasts the rate's period, so a burst straddling two windows can reach
twice the rate for a moment: the price of O(1) state, and the rates are abuse
limits, not quotas. Other caches (the local-memory one of tests and single-
process setups) keep DRF's sliding log.
"""

import logging

from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from tradeplatform.client_ip import client_ip

logger = logging.getLogger(__name__)


def principal_ident(request) -> str:
    user = request.user
    if user is not None and user.is_authenticated:
        return f"{type(user).__name__.lower()}:{user.pk}"
    return f"ip:{client_ip(request)}"


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
        window_ms = self.duration * 1000
        try:
            # The counter is created with its expiry (SET NX PX) and INCR keeps it.
            _, count, remaining_ms = (redis.pipeline(transaction=False).set(key, 0, px=window_ms, nx=True)
                                      .incr(key).pttl(key).execute())
            if remaining_ms < 0:
                # The old window expired between SET and INCR, and INCR made a
                # counter without expiry: it would refuse this principal forever.
                redis.pexpire(key, window_ms)
                remaining_ms = window_ms
        except RedisError:
            logger.warning("rate-limit counters unavailable; allowing the request", extra={"scope": self.scope})
            return True
        if count <= self.num_requests:
            return True
        self.window_wait = remaining_ms / 1000
        return False

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
