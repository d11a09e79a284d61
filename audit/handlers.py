"""The only place audit entries are written from: receivers of the domain
events (each app's `events.py`) and of Django's own auth and admin signals.
A receiver that raises aborts the action that sent the event, because every
event is sent inside that action's transaction."""

import functools
import hashlib
import json

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry, LogEntryManager
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save

from approvals import events as approval_events
from audit.models import AuditEntry
from audit.services import append_entries, append_entry
from delivery import events as delivery_events
from execution import events as execution_events
from risk import events as risk_events
from signals import events as signal_events

DOMAIN_EVENTS = {
    signal_events.producer_created: "producer.create",
    signal_events.producer_secret_rotated: "producer.rotate",
    signal_events.producer_disabled: "producer.disable",
    signal_events.producer_updated: "producer.update",
    signal_events.producer_alert_token_rotated: "producer.alert_token",
    signal_events.signal_created: "signal.create",
    signal_events.signal_replayed: "signal.replay",
    signal_events.signal_ingest_denied: "signal.ingest_denied",
    signal_events.signal_expired: "signal.expire",
    signal_events.subscription_created: "subscription.create",
    signal_events.subscription_deleted: "subscription.delete",
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
    execution_events.position_revised: "position.revise",
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
    delivery_events.webhook_created: "webhook.create",
    delivery_events.webhook_updated: "webhook.update",
    delivery_events.webhook_secret_rotated: "webhook.rotate",
    delivery_events.webhook_disabled: "webhook.disable",
    delivery_events.webhook_deleted: "webhook.delete",
}


# Every action a receiver below can write (the admin's action filter lists these).
ACTIONS = sorted({*DOMAIN_EVENTS.values(), "signal.publish", "auth.login", "auth.logout", "admin.change"})


def target_type_of(instance) -> str:
    return instance._meta.model_name if instance is not None else ""


def make_domain_receiver(action):
    def record(sender, *, target=None, meta=None, status=AuditEntry.Status.SUCCESS, actor_type=None, actor=None,
               **kwargs):
        append_entry(action=action, status=status, target_type=target_type_of(target),
                     target_id=getattr(target, "pk", "") or "", meta=meta, actor_type=actor_type, actor=actor)

    return record


# How many of a publication's copy ids its `signal.publish` entry lists.
PUBLISHED_IDS_SHOWN = 5


def record_signals_published(sender, *, signals, publication, meta=None, **kwargs):
    """A publication reaching its subscribers' feeds is one act, audited as
    one `signal.publish` entry on the owner's signal (whose own
    `signal.create` precedes it): `deliveries` the copies made, `copies_sha256`
    the SHA-256 of their sorted ids, one per line, so that the entry pins
    exactly which copies were made (docs/api.md#audit), and the first few ids.
    One entry per copy cost the hash chain 10,000 entries, seconds, for one
    signal to 10,000 subscribers, and recorded nothing the producer or the
    platform did beyond this."""
    ids = sorted(str(signal.pk) for signal in signals)
    append_entry(action="signal.publish", target_type="signal", target_id=publication.pk,
                 meta={**(meta or {}), "deliveries": len(ids),
                       "copies_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
                       "copies_first": ids[:PUBLISHED_IDS_SHOWN]})


def record_changes(sender, *, changes, **kwargs):
    """Many rows' domain events at once (execution.events.changes_recorded):
    the entry each single event would have had, in the same order, appended
    together."""
    append_entries(entries=[{"action": DOMAIN_EVENTS[change.event], "target_type": target_type_of(change.target),
                             "target_id": getattr(change.target, "pk", "") or "", "meta": change.meta}
                            for change in changes])


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
    signal_events.signals_published.connect(record_signals_published, dispatch_uid="audit:signal.publish")
    execution_events.changes_recorded.connect(record_changes, dispatch_uid="audit:execution.changes")
    user_logged_in.connect(record_login, dispatch_uid="audit:auth.login")
    user_login_failed.connect(record_login_failure, dispatch_uid="audit:auth.login_failed")
    user_logged_out.connect(record_logout, dispatch_uid="audit:auth.logout")
    post_save.connect(record_admin_change, sender=LogEntry, dispatch_uid="audit:admin.change")
    if not getattr(LogEntryManager.log_actions, "audited", False):
        LogEntryManager.log_actions = one_admin_log_entry_at_a_time(LogEntryManager.log_actions)
