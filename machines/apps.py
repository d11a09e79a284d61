from django.apps import AppConfig


class MachinesConfig(AppConfig):
    """Machine clients: programs that sign every request with a key id and a
    secret instead of holding a user's token (strategy engines, broker
    bridges). The apps that own each kind subclass the abstract models."""

    name = "machines"
    verbose_name = "Machine clients"

    def ready(self):
        from core.worker_cache import flush_on_change
        from machines import caches
        from machines import schema  # noqa: F401  (registers the OpenAPI extension)

        flush_on_change(caches.credentials, dispatch_uid="machines.caches.credentials")
