"""The operators' console: Django's admin site, whose index page also shows
the dashboard (config/dashboard.py, templates/admin/index.html)."""

from django.contrib import admin
from django.utils import timezone

from config import dashboard


class OperatorsAdminSite(admin.AdminSite):
    def index(self, request, extra_context=None):
        return super().index(request, {"dashboard": dashboard.build(self, request, now=timezone.now()),
                                       **(extra_context or {})})
