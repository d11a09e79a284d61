"""Periodic jobs of the signals app, run by the task engine's consumer
(`python manage.py run_huey`)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from core import request_context
from signals import services


@db_periodic_task(crontab(minute="*"))
def expire_signals() -> int:
    """Every minute: pending signals past their expiry are stored `expired`
    (`manage.py expire_signals` does the same on demand)."""
    request_context.set_actor("system", "task expire_signals")
    return services.expire_signals()
