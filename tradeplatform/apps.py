from django.apps import AppConfig


class TradePlatformConfig(AppConfig):
    """The project package is also an app, so that project-wide management
    commands (`load_demo`) and schema extensions have a home."""

    name = "tradeplatform"
    verbose_name = "Trade platform"

    def ready(self):
        from tradeplatform import schema  # noqa: F401  (registers the extensions)
