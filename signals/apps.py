from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "signals"
    verbose_name = "Trade signals"

    def ready(self):
        from core.worker_cache import flush_on_change
        from signals import caches

        flush_on_change(caches.whitelist, dispatch_uid="signals.caches.whitelist")
