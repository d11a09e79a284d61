from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Push delivery"

    def ready(self):
        from delivery import outbox, tasks  # noqa: F401  (tasks: registers the Huey tasks with the consumer)

        outbox.connect()
