from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Push delivery"

    def ready(self):
        from delivery import outbox, tasks  # tasks: also registers the Huey tasks with the consumer

        outbox.connect()
        outbox.deliveries_due.connect(tasks.wake, dispatch_uid="delivery:wake_sender")
