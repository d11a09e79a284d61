"""The only place audit entries are written from: receivers of the domain
events (each app's `events.py`) and of Django's own auth and admin signals.
A receiver that raises aborts the action that sent the event, because every
event is sent inside that action's transaction."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from approvals import events as approval_events
from audit.models import AuditEntry
from audit.services import append_entry
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
}


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


def connect():
    for event, action in DOMAIN_EVENTS.items():
        event.connect(make_domain_receiver(action), weak=False, dispatch_uid=f"audit:{action}")
    user_logged_in.connect(record_login, dispatch_uid="audit:auth.login")
    user_login_failed.connect(record_login_failure, dispatch_uid="audit:auth.login_failed")
    user_logged_out.connect(record_logout, dispatch_uid="audit:auth.logout")
