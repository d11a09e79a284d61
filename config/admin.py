"""The operators' console: Django's admin site, whose index page also shows
the dashboard (config/dashboard.py, templates/admin/index.html)."""

from functools import wraps

from django.contrib import admin
from django.http import HttpResponseBadRequest
from django.utils import timezone

from config import dashboard


class OperatorsAdminSite(admin.AdminSite):
    def admin_view(self, view, cacheable=False):
        """Every console page refuses a query string holding a NUL (400):
        PostgreSQL refuses one in a text parameter only when the list's query
        runs, after the admin has checked the filters' lookups (a 500)."""
        checked = super().admin_view(view, cacheable)

        @wraps(checked)
        def without_nul(request, *args, **kwargs):
            if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
                return HttpResponseBadRequest("A query parameter holds a NUL character.")
            return checked(request, *args, **kwargs)

        return without_nul

    def index(self, request, extra_context=None):
        return super().index(request, {"dashboard": dashboard.build(self, request, now=timezone.now()),
                                       **(extra_context or {})})
