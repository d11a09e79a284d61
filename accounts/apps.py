from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from accounts import caches
        from core.worker_cache import flush_on_change

        flush_on_change(caches.users, dispatch_uid="accounts.caches.users")
