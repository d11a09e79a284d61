import copy

from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import caches, selectors
from accounts.models import SESSION_CLAIM
from core import request_context


class BearerAuthentication(JWTAuthentication):
    """simplejwt's Bearer authentication that also refuses the access tokens
    of a logged-out session and records the user as the request's actor
    (access log, audit entries)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            request_context.set_actor("user", result[0].get_username())
        return result

    def get_validated_token(self, raw_token):
        def verify():
            return super(BearerAuthentication, self).get_validated_token(raw_token)

        # Kept by each worker by the token's bytes (accounts/caches.py).
        token = caches.access_tokens.get(raw_token, verify)
        try:
            token.check_exp(current_time=aware_utcnow())  # a kept token's too: it was checked when it was kept
        except TokenError:
            # Expired since: verified afresh, it is refused as any expired token is.
            caches.access_tokens.forget(raw_token)
            return verify()
        return token

    def get_user(self, validated_token):
        # Keyed with every claim the answer depends on: the user id, the
        # password-hash claim (checked if CHECK_REVOKE_TOKEN is on), the session.
        session_id = validated_token.get(SESSION_CLAIM)
        key = (str(validated_token.get(api_settings.USER_ID_CLAIM, "")),
               validated_token.get(api_settings.REVOKE_TOKEN_CLAIM), session_id)

        def load():
            user = super(BearerAuthentication, self).get_user(validated_token)
            if session_id and selectors.session_has_ended(str(session_id)):
                raise AuthenticationFailed("The session has ended; log in again.", code="session_ended")
            return user

        # Kept by each worker (accounts/caches.py): a deactivated or deleted
        # user, or a logged-out session, is refused by every worker within
        # WORKER_CACHE_SECONDS, by this one at once. A miss or a refusal
        # (unknown, inactive, logged out) raises and keeps nothing.
        user = caches.users.get(key, load)
        return copy.copy(user)  # what one request sets on its user stays in that request
