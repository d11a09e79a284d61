import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts.login_guard import LoginGuard, TooManyFailedLogins


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form behind the failed-login limit the API's token
    endpoint shares (accounts/login_guard.py)."""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()  # a field is missing: no password was tried
        guard = LoginGuard(self.request, username)
        try:
            guard.admit()
        except TooManyFailedLogins as refused:
            minutes = math.ceil(refused.wait / 60)
            raise ValidationError(
                "Too many failed logins for this account or from this address. "
                "Try again in %(minutes)d minute(s).", code="too_many_failed_logins", params={"minutes": minutes},
            ) from None
        try:
            # A wrong password raises here, after authenticate() has sent
            # user_login_failed (which the audit log records).
            return super().clean()
        finally:
            if self.user_cache is not None:  # the password was right, whatever the admin then refuses (not staff)
                guard.succeeded()
