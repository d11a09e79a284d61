"""Contract §1: JWT for people. simplejwt does the tokens; this module adds
the failed-login throttle, logout, `/me/`, and announces logins and logouts
with Django's own auth signals (which the audit log records)."""

import hashlib
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.cache import cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from core.client_ip import client_ip


class LoginFailureGuard:
    """Counts failed logins per client address and per username in fixed
    windows; over the limit, further attempts get 429 until the window ends."""

    def __init__(self, request, username: str):
        # Hashed: a username may hold any character, a cache key should not.
        username_key = hashlib.sha256(username.lower().encode("utf-8", "surrogatepass")).hexdigest()
        self.keys = [f"login-fail:ip:{client_ip(request)}", f"login-fail:user:{username_key}"]

    def check(self):
        limit = settings.LOGIN_FAILURE_LIMIT
        counts = cache.get_many(self.keys)
        if any(counts.get(key, (0, 0))[0] >= limit for key in self.keys):
            reset_at = max(counts.get(key, (0, 0))[1] for key in self.keys)
            raise Throttled(wait=max(1, int(reset_at - time.time())),
                            detail="Too many failed logins; try again later.")

    def record_failure(self):
        window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        now = time.time()
        for key in self.keys:
            count, reset_at = cache.get(key, (0, now + window))
            cache.set(key, (count + 1, reset_at), timeout=max(1, int(reset_at - now)))


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenView(TokenObtainPairView):
    """POST {"username", "password"} → {"access", "refresh"}. Unknown user and
    wrong password give the same 401 (Django's backend hashes in both cases)."""

    # LoginFailureGuard limits guessing; the default per-address rate (anon)
    # still bounds successful logins, each of which writes an audit entry.

    @extend_schema(responses={200: TokenPairSerializer, 401: OpenApiResponse(description="Bad credentials")})
    def post(self, request, *args, **kwargs):
        username = str(request.data.get("username", "")) if isinstance(request.data, dict) else ""
        guard = LoginFailureGuard(request, username)
        guard.check()
        serializer = TokenObtainPairSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            guard.record_failure()  # Django's authenticate() already sent user_login_failed
            raise AuthenticationFailed("No active account found with the given credentials.")
        user_logged_in.send(sender=type(serializer.user), request=request, user=serializer.user)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class RefreshView(TokenRefreshView):
    """Rate-limited per address by the default (anon) throttle: every
    refresh rotates the token and writes to the blacklist."""


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutView(APIView):
    """Blacklists the refresh token: presenting it is the proof of identity,
    so a client whose access token has expired can still log out."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'  # a refused refresh token is a 401, as everywhere else

    @extend_schema(request=LogoutSerializer, responses={204: None})
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = RefreshToken(serializer.validated_data["refresh"])
            token.blacklist()
        except TokenError:
            raise AuthenticationFailed("The refresh token is invalid or expired.")
        user = get_user_model().objects.filter(pk=token.payload.get("user_id")).first()
        user_logged_out.send(sender=type(user), request=request, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)
