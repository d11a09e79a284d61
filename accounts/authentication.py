import copy

from django.conf import settings
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings

from core import request_context
from core.worker_cache import WorkerCache

# simplejwt reads the user row on every request to see that it still exists
# and is active: the largest cost of a cached chart. Each worker keeps it for
# WORKER_CACHE_SECONDS, so a deactivated or deleted user is refused by every
# worker within that time (by this one at once: see forget_user).
_users = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS)


class BearerAuthentication(JWTAuthentication):
    """simplejwt's Bearer authentication that also records the user as the
    request's actor (access log, audit entries)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            request_context.set_actor("user", result[0].get_username())
        return result

    def get_user(self, validated_token):
        # Keyed with the token's claims that simplejwt checks against the row
        # (the user id; the password-hash claim if CHECK_REVOKE_TOKEN is on).
        key = (str(validated_token.get(api_settings.USER_ID_CLAIM, "")),
               validated_token.get(api_settings.REVOKE_TOKEN_CLAIM))
        # A miss or a refusal (unknown, inactive) raises from simplejwt and keeps nothing.
        user = _users.get(key, lambda: super(BearerAuthentication, self).get_user(validated_token))
        return copy.copy(user)  # what one request sets on its user stays in that request


def forget_user(sender, instance, **kwargs):
    """post_save / post_delete of the user model."""
    _users.changed()
