"""Rate limits. Counters live in the shared cache, so all worker processes
count against one budget; with Redis down they fail open (the cache ignores
errors) rather than refusing every request."""

from rest_framework.throttling import SimpleRateThrottle

from tradeplatform.client_ip import client_ip


def principal_ident(request) -> str:
    user = request.user
    if user is not None and user.is_authenticated:
        return f"{type(user).__name__.lower()}:{user.pk}"
    return f"ip:{client_ip(request)}"


class ScopedThrottle(SimpleRateThrottle):
    """A budget per principal (user, producer, or else client address) for the
    rate named by `scope` in `DEFAULT_THROTTLE_RATES`."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": principal_ident(request)}


class UserThrottle(ScopedThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        return super().get_cache_key(request, view) if request.user.is_authenticated else None


class AnonThrottle(ScopedThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        return None if request.user.is_authenticated else super().get_cache_key(request, view)
