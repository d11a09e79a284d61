"""The failed-login limit that every login surface shares: the API's token
endpoint and the admin's login page count failures in the same counters, kept
in the cache (Redis: shared by every worker and host).

- A client that has logged in as a user before, from the same address (within
  `LOGIN_KNOWN_ADDRESS_DAYS`), is known for that user. Its failures count for
  that address and username alone, up to `LOGIN_FAILURE_LIMIT`: strangers'
  guesses never lock it out, and its own typos lock out no one else.
- Any other client is a stranger. Its failures count per username (up to
  `LOGIN_FAILURE_LIMIT`, whatever address they come from) and per address (up
  to `LOGIN_ADDRESS_FAILURE_LIMIT`, whatever username they name). Past either,
  strangers get 429; the address limit blocks that address only, and a user
  known at a shared address (a NAT) still logs in from it.

The counts are of fixed windows of `LOGIN_FAILURE_WINDOW_SECONDS`, each
opened by its first failure. An attempt counts as a failure from the moment it
is admitted until it succeeds, so that parallel guesses cannot all pass the
check before the first of them is counted. With the cache down, nothing is
counted and logins go through.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from core.client_ip import budget_address, client_ip


class TooManyFailedLogins(Throttled):
    default_detail = "Too many failed logins; try again later."


class LoginGuard:
    """One login attempt: `admit()` before the password is checked, then
    `succeeded()` if it was right; a wrong one needs nothing more."""

    def __init__(self, request, username: str):
        address = budget_address(client_ip(request))
        # Hashed: a username may hold any character, a cache key should not.
        user = hashlib.sha256(username.lower().encode("utf-8", "surrogatepass")).hexdigest()
        self._known_key = f"login-known:{address}:{user}"
        if cache.get(self._known_key):
            self._limits = {f"login-fail:known:{address}:{user}": settings.LOGIN_FAILURE_LIMIT}
        else:
            self._limits = {f"login-fail:user:{user}": settings.LOGIN_FAILURE_LIMIT,
                            f"login-fail:address:{address}": settings.LOGIN_ADDRESS_FAILURE_LIMIT}

    def admit(self):
        """Counts this attempt as failed; past a limit, takes it back and
        raises TooManyFailedLogins (a 429 with Retry-After)."""
        counts = {key: _count_up(key) for key in self._limits}
        over = [key for key, count in counts.items() if count > self._limits[key]]
        if over:
            self._count_down()
            raise TooManyFailedLogins(wait=max(_seconds_left(key) for key in over))

    def succeeded(self):
        """The password was right: not a failure, and this client is known
        for this username from now on."""
        self._count_down()
        cache.set(self._known_key, True, timeout=settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400)

    def _count_down(self):
        for key in self._limits:
            try:
                cache.decr(key)
            except ValueError:  # its window has ended meanwhile
                pass


def _count_up(key) -> int:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    if cache.add(key, 0, timeout=window):  # the first failure of a window
        cache.set(f"{key}:ends", time.time() + window, timeout=window)
    try:
        return cache.incr(key) or 0  # None: the cache is down
    except ValueError:  # evicted between the two calls
        return 0


def _seconds_left(key) -> int:
    ends = cache.get(f"{key}:ends")
    if ends is None:
        return settings.LOGIN_FAILURE_WINDOW_SECONDS
    return max(1, math.ceil(ends - time.time()))
