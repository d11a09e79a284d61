from django.contrib.admin.apps import AdminConfig


class OperatorsAdminConfig(AdminConfig):
    """django.contrib.admin, its site the operators' console (config/admin.py)."""

    default_site = "config.admin.OperatorsAdminSite"
