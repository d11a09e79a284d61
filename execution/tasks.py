"""Periodic jobs of the execution app, run by the task engine's consumer
(`python manage.py run_huey`)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from core import request_context
from execution import reconciliation, services


@db_periodic_task(crontab(minute="*"))
def expire_orders() -> int:
    """Every minute: unfilled orders past their expiry become `expired`, each
    with a `cancel` command for the bridge."""
    request_context.set_actor("system", "task expire_orders")
    return services.expire_orders()


@db_periodic_task(crontab(minute="*"))
def mark_stale_accounts() -> int:
    """Every minute: an account silent for longer than ACCOUNT_STALE_SECONDS
    gets a `stale` reconciliation run, once per silence."""
    request_context.set_actor("system", "task mark_stale_accounts")
    return reconciliation.mark_stale_accounts()
