from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for a local try-out (`manage.py load_demo`, run by `make run`).
    It sits above every other app, so it may use any app's services and no
    app needs to know about it."""

    name = "demo"
    verbose_name = "Demo data"
