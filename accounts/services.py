"""Writes of the accounts app: starting a login session, rotating its refresh
token, ending it.

A refresh token is spent once, by a refresh or a logout: its row in
simplejwt's blacklist is inserted before anything is issued, in the same
transaction, and the blacklist's unique reference to the token makes every
concurrent spender but one fail there (on PostgreSQL the second insert waits
for the first transaction and then violates the constraint; SQLite takes the
write lock at BEGIN, so the second one sees the row)."""

import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import SESSION_CLAIM, EndedSession

REFUSED_REFRESH = "The refresh token is invalid or expired."


def log_in(*, request, user) -> dict[str, str]:
    """A new session for `user`, who has just proved their password: its
    refresh and access tokens, announced with `user_logged_in` (audited, and
    `last_login` set) in the transaction that writes the token down."""
    with transaction.atomic():
        refresh = RefreshToken.for_user(user)
        refresh[SESSION_CLAIM] = uuid.uuid4().hex
        user_logged_in.send(sender=type(user), request=request, user=user)
    return _pair(refresh)


def rotate_refresh_token(*, refresh: str) -> dict[str, str]:
    """A new access token and the refresh token's one successor; 401 if the
    token is invalid, expired, already spent, or its user is gone or
    deactivated."""
    token = _refresh_token(refresh)
    user = _user_of(token)
    if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
        raise AuthenticationFailed("No active account found for the given token.", code="no_active_account")
    with transaction.atomic():
        _spend(token, user)
        token.set_jti()
        token.set_exp()
        token.set_iat()
        _write_down(token, user)
    return _pair(token)


def log_out(*, request, refresh: str) -> None:
    """Ends the refresh token's session: the token is spent, and the access
    tokens issued in the session are refused from then on (by each worker
    within WORKER_CACHE_SECONDS). Announced with `user_logged_out` (audited)."""
    token = _refresh_token(refresh)
    user = _user_of(token)
    with transaction.atomic():
        _spend(token, user)
        session_id = token.get(SESSION_CLAIM)
        if session_id:
            now = timezone.now()
            EndedSession.objects.create(session_id=session_id, ended_at=now)
            # Older rows refuse no token any more: every access token of their session has expired.
            EndedSession.objects.filter(ended_at__lt=now - api_settings.ACCESS_TOKEN_LIFETIME).delete()
        user_logged_out.send(sender=get_user_model(), request=request, user=user)


def _pair(refresh: RefreshToken) -> dict[str, str]:
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # signature, expiry, type; blacklisted already: refused here at once
    except TokenError:
        raise AuthenticationFailed(REFUSED_REFRESH) from None


def _user_of(token):
    user_id = token.get(api_settings.USER_ID_CLAIM)
    return get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()


def _spend(token: RefreshToken, user) -> None:
    outstanding = _write_down(token, user)
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:  # spent by a concurrent request
        raise AuthenticationFailed(REFUSED_REFRESH) from None


def _write_down(token: RefreshToken, user) -> OutstandingToken:
    """The token's row in simplejwt's list of issued tokens (a token minted
    before that list existed has none yet). A concurrent insert of the same
    row makes get_or_create fetch it instead."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=token[api_settings.JTI_CLAIM],
        defaults={"user": user, "token": str(token), "created_at": token.current_time,
                  "expires_at": datetime_from_epoch(token["exp"])},
    )
    return outstanding
