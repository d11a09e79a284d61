"""The webhook sender, run by the task engine's consumer (`python manage.py
run_huey`). Woken when an event's transaction commits; the minute's sweep
picks up whatever a lost wake-up or a killed consumer left due, because the
delivery rows, not the queue, say what is owed."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from core import request_context
from delivery import services

# The sender wakes itself for retries due sooner than the sweep's next run.
SWEEP_SECONDS = 60


def _send() -> int:
    request_context.set_actor("system", "task send_due_deliveries")
    sent = services.send_due()
    wait = services.next_due_in()
    if wait is not None and wait < SWEEP_SECONDS:
        send_due_deliveries.schedule(delay=max(wait, 1))
    return sent


@db_task()
def send_due_deliveries() -> int:
    return _send()


def wake(sender, **kwargs) -> None:
    """Receives the outbox's `deliveries_due`: sends on the consumer now."""
    send_due_deliveries()


@db_periodic_task(crontab(minute="*"))
def sweep_deliveries() -> int:
    return _send()


@db_periodic_task(crontab(minute="17"))
def prune_events() -> int:
    """Every hour: events past EVENT_RETENTION_DAYS go, with their deliveries."""
    request_context.set_actor("system", "task prune_events")
    return services.prune_events()
