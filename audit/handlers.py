"""The only place audit entries are written from: receivers of the domain
events (each app's `events.py`) and of Django's own auth and admin signals.
A receiver that raises aborts the action that sent the event, because every
event is sent inside that action's transaction."""

import functools
import json

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry, LogEntryManager
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save

from approvals import events as approval_events
from audit.models import AuditEntry
from audit.services import append_entry
from execution import events as execution_events
from risk import events as risk_events
from signals import events as signal_events

DOMAIN_EVENTS = {
    signal_events.producer_created: "producer.create",
    signal_events.producer_secret_rotated: "producer.rotate",
    signal_events.producer_disabled: "producer.disable",
    signal_events.signal_created: "signal.create",
    signal_events.signal_replayed: "signal.replay",
    signal_events.signal_ingest_denied: "signal.ingest_denied",
    signal_events.signal_expired: "signal.expire",
    approval_events.approval_created: "approval.create",
    approval_events.consent_published: "consent.publish",
    execution_events.bridge_created: "bridge.create",
    execution_events.bridge_secret_rotated: "bridge.rotate",
    execution_events.bridge_disabled: "bridge.disable",
    execution_events.bridge_auth_denied: "bridge.auth_denied",
    execution_events.order_created: "order.create",
    execution_events.order_transitioned: "order.transition",
    execution_events.fills_recorded: "fill.record",
    execution_events.position_opened: "position.open",
    execution_events.position_closed: "position.close",
    execution_events.position_close_requested: "position.close_request",
    execution_events.command_acknowledged: "command.ack",
    execution_events.account_snapshot_recorded: "account.snapshot",
    execution_events.trading_paused: "trading.pause",
    execution_events.trading_resumed: "trading.resume",
    execution_events.account_mode_changed: "risk.mode_changed",
    execution_events.drawdown_warning: "risk.drawdown_warning",
    risk_events.policy_changed: "risk.policy_change",
    risk_events.market_hours_changed: "risk.market_hours_change",
    execution_events.reconciliation_recorded: "reconciliation.run",
}


# Every action a receiver below can write (the admin's action filter lists these).
ACTIONS = sorted({*DOMAIN_EVENTS.values(), "auth.login", "auth.logout", "admin.change"})


def target_type_of(instance) -> str:
    return instance._meta.model_name if instance is not None else ""


def make_domain_receiver(action):
    def record(sender, *, target=None, meta=None, status=AuditEntry.Status.SUCCESS, actor_type=None, actor=None,
               **kwargs):
        append_entry(action=action, status=status, target_type=target_type_of(target),
                     target_id=getattr(target, "pk", "") or "", meta=meta, actor_type=actor_type, actor=actor)

    return record


def record_login(sender, *, request, user, **kwargs):
    append_entry(action="auth.login", target_type="user", target_id=user.pk,
                 actor_type="user", actor=user.get_username(),
                 meta={"via": "jwt" if request is not None and request.path.startswith("/api/") else "session"})


def record_login_failure(sender, *, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    append_entry(action="auth.login", status=AuditEntry.Status.FAILURE, target_type="user",
                 actor_type="user", actor=username or None, meta={"username": username})


def record_logout(sender, *, request, user, **kwargs):
    append_entry(action="auth.logout", target_type="user", target_id=getattr(user, "pk", "") or "",
                 actor_type="user", actor=user.get_username() if user else None)


ADMIN_OPERATIONS = {ADDITION: "add", CHANGE: "change", DELETION: "delete"}


def record_admin_change(sender, *, instance, created, raw=False, **kwargs):
    """One `admin.change` per entry of Django's admin log, written in the
    admin view's transaction (the admin saves its log inside it)."""
    if not created or raw:
        return
    try:
        change_message = json.loads(instance.change_message or "[]")
    except ValueError:
        change_message = instance.change_message
    content_type = instance.content_type
    append_entry(
        action="admin.change",
        target_type=content_type.model if content_type else "",
        target_id=instance.object_id or "",
        actor_type="user",
        actor=instance.user.get_username(),
        meta={
            "operation": ADMIN_OPERATIONS.get(instance.action_flag, str(instance.action_flag)),
            "content_type": f"{content_type.app_label}.{content_type.model}" if content_type else None,
            "object_repr": instance.object_repr,
            "change_message": change_message,
        },
    )


def one_admin_log_entry_at_a_time(log_actions):
    """Django writes the admin log of a multi-object delete ("delete selected")
    with `bulk_create`, which sends no `post_save`: have each object's log
    entry saved on its own, so that every deletion is audited."""

    @functools.wraps(log_actions)
    def log_each(self, user_id, queryset, action_flag, change_message="", *, single_object=False):
        if single_object:
            return log_actions(self, user_id, queryset, action_flag, change_message, single_object=True)
        return [entry for obj in queryset for entry in log_actions(self, user_id, [obj], action_flag, change_message)]

    log_each.audited = True
    return log_each


def connect():
    for event, action in DOMAIN_EVENTS.items():
        event.connect(make_domain_receiver(action), weak=False, dispatch_uid=f"audit:{action}")
    user_logged_in.connect(record_login, dispatch_uid="audit:auth.login")
    user_login_failed.connect(record_login_failure, dispatch_uid="audit:auth.login_failed")
    user_logged_out.connect(record_logout, dispatch_uid="audit:auth.logout")
    post_save.connect(record_admin_change, sender=LogEntry, dispatch_uid="audit:admin.change")
    if not getattr(LogEntryManager.log_actions, "audited", False):
        LogEntryManager.log_actions = one_admin_log_entry_at_a_time(LogEntryManager.log_actions)
