from django.apps import AppConfig


class PaperbrokerConfig(AppConfig):
    """The project's paper broker: only the `paper_bridge` management command
    (no models): a bridge process that trades a simulated account against the
    stored candles and talks to the platform over the signed bridge API."""

    name = "paperbroker"
    verbose_name = "Paper broker"
