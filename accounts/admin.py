from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
# Imported for its registrations, which are replaced below.
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin  # noqa: F401
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.forms import AdminLoginForm
from accounts.models import User
from core.admin import ReadOnlyAdmin

admin.site.register(User, UserAdmin)

# simplejwt's own admin lets staff add and remove blacklist entries (removing
# one revives a revoked refresh token) and shows each refresh token in full.
admin.site.unregister([OutstandingToken, BlacklistedToken])


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(ReadOnlyAdmin):
    """Every refresh token issued (a session): who, when, until when, and
    whether it was revoked. The token itself is never shown: it is a
    credential."""

    list_display = ["jti", "user", "created_at", "expires_at", "revoked"]
    list_select_related = ["user", "blacklistedtoken"]
    search_fields = ["user__username", "=jti"]
    ordering = ["-created_at"]
    show_full_result_count = False
    fields = ["jti", "user", "created_at", "expires_at", "revoked"]
    readonly_fields = fields

    @admin.display(description="revoked", boolean=True)
    def revoked(self, token):
        return hasattr(token, "blacklistedtoken")

    def lookup_allowed(self, lookup, value, request):
        # Django lets a change list filter on any field of its model from the
        # URL: ?token__startswith=… would tell, one character at a time,
        # whether a guess is right, and read a live refresh token out.
        return not _names_the_token(lookup, "token") and super().lookup_allowed(lookup, value, request)


@admin.register(BlacklistedToken)
class BlacklistedTokenAdmin(ReadOnlyAdmin):
    """Revoked refresh tokens (logout, rotation): a record, not a switch."""

    list_display = ["jti", "user", "blacklisted_at"]
    list_select_related = ["token__user"]
    search_fields = ["token__user__username", "=token__jti"]
    ordering = ["-blacklisted_at"]
    show_full_result_count = False
    fields = ["jti", "user", "blacklisted_at"]
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request):
        # As OutstandingTokenAdmin's: the revoked token's text is no filter either.
        return not _names_the_token(lookup, "token__token") and super().lookup_allowed(lookup, value, request)

    @admin.display(description="jti", ordering="token__jti")
    def jti(self, blacklisted):
        return blacklisted.token.jti

    @admin.display(description="user", ordering="token__user__username")
    def user(self, blacklisted):
        return blacklisted.token.user


def _names_the_token(lookup: str, field: str) -> bool:
    return lookup == field or lookup.startswith(field + "__")


# Every login surface shares one failed-login limit (accounts/login_guard.py).
admin.site.login_form = AdminLoginForm
