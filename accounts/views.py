"""People's logins: JWTs from simplejwt, in sessions that a login starts, each
refresh rotates and logout ends (accounts/services.py), behind the failed-login
limit every login surface shares (accounts/login_guard.py). Logins and
logouts are announced with Django's own auth signals, which the audit log
records."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.login_guard import LoginGuard


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, write_only=True, style={"input_type": "password"})


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenAuthView(APIView):
    """The token endpoints: no credentials needed to call them (the body holds
    them), and a refusal is a 401 with a Bearer challenge, as everywhere else.
    The default per-address rate (anon) bounds them."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenView(TokenAuthView):
    """POST {"username", "password"} → {"access", "refresh"}. Unknown user and
    wrong password give the same 401 (Django's backend hashes in both cases)."""

    @extend_schema(summary="Log in: a username and password for an access and a refresh token",
                   request=LoginSerializer,
                   responses={200: TokenPairSerializer, 401: OpenApiResponse(description="Bad credentials")})
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username, password = serializer.validated_data["username"], serializer.validated_data["password"]
        guard = LoginGuard(request, username)
        guard.admit()
        user = authenticate(request, username=username, password=password)
        if user is None:  # authenticate() has sent user_login_failed, which the audit log records
            raise AuthenticationFailed("No active account found with the given credentials.")
        guard.succeeded()
        return Response(services.log_in(request=request, user=user))


class RefreshView(TokenAuthView):
    """POST {"refresh"} → {"access", "refresh"}: the refresh token is spent,
    and its one successor returned."""

    @extend_schema(summary="Trade a refresh token for a new access and refresh token (the old one ends)",
                   request=RefreshSerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.rotate_refresh_token(refresh=serializer.validated_data["refresh"]))


class LogoutView(TokenAuthView):
    """Ends the session of the refresh token: presenting it is the proof of
    identity, so a client whose access token has expired can still log out."""

    @extend_schema(summary="Log out: end the session of a refresh token", request=RefreshSerializer,
                   responses={204: None})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.log_out(request=request, refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()


class MeView(APIView):
    @extend_schema(summary="Who you are logged in as", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)
