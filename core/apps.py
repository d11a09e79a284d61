from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares (problems, request context, throttles, the JSON
    parser, pagination, CSV streaming, worker caches) and the operations
    endpoints. An app so that its schema extensions have a home; it imports no
    other app of the project."""

    name = "core"
    verbose_name = "Platform core"

    def ready(self):
        from core import schema  # noqa: F401  (registers the extensions)
