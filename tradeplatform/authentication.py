from rest_framework_simplejwt.authentication import JWTAuthentication

from tradeplatform import request_context


class BearerAuthentication(JWTAuthentication):
    """simplejwt's Bearer authentication that also records the user as the
    request's actor (access log, audit entries)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            request_context.set_actor("user", result[0].get_username())
        return result
