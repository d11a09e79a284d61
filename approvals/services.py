"""Writes of the approvals app: publishing consent texts and deciding on signals."""

import uuid
from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from approvals import events, metrics, selectors
from approvals.models import Approval, ConsentText
from signals.models import Signal
from core.problems import Conflict, ServiceUnavailable

USER_AGENT_MAX = Approval._meta.get_field("user_agent").max_length


def publish_consent(*, text: str, version: str, by) -> ConsentText:
    """Publishes a new consent version; from then on decisions must name it.
    Audited as `consent.publish` in the same transaction."""
    consent = ConsentText(version=version.strip(), text=text, published_at=timezone.now(), published_by=by)
    consent.full_clean()
    with transaction.atomic():
        consent.save()
        events.consent_published.send(
            sender=ConsentText, target=consent, meta={"version": consent.version},
            **({"actor_type": "user", "actor": by.get_username()} if by is not None else {}),
        )
    return consent


def decide_signal(*, user, signal_id, decision, consent_version, reason="", ip=None, user_agent="") -> Approval:
    """Records `user`'s final decision on a signal of their feed and moves the
    signal's status to it, audited as `approval.create`, all in one transaction.

    The arguments are the client's values as sent (possibly missing or of the
    wrong type): the checks answer in this order (404, 403, 409
    decided, 409 `signal-expired`, 409 `consent-outdated`, 422), so a request
    refused for the state of the signal says so whatever else is wrong with it,
    and field errors come last.
    """
    signal_pk = _parse_signal_id(signal_id)
    with transaction.atomic():
        # The row lock queues concurrent decisions on one signal; the second
        # one then sees the first's approval. The unique constraint on
        # Approval.signal is the backstop for any writer that skips the lock.
        # Its instrument comes along (unlocked) for the order and the events
        # an approval may make, which name its symbol.
        signal = Signal.objects.select_related("instrument").select_for_update(of=("self",)).filter(
            pk=signal_pk).first()
        if signal is None:
            raise NotFound("No such signal.")
        if signal.owner_id != user.pk:
            raise PermissionDenied("The signal is in another user's feed; only its owner decides on it.")
        if _has_decision(signal):
            raise _already_decided()
        now = timezone.now()
        if signal.effective_status(now) == Signal.Status.EXPIRED:
            raise Conflict("The signal has expired; it can no longer be decided on.", slug="signal-expired")
        current = selectors.current_consent()
        if current is None:  # version "1" ships, so only a hand-emptied table gets here
            raise ServiceUnavailable("No consent text is published.")
        if isinstance(consent_version, str) and consent_version and consent_version != current.version:
            raise Conflict(f"Consent version {current.version} is current; show it to the user and send it.",
                           slug="consent-outdated", extra={"current_version": current.version})

        approval = Approval(signal=signal, user=user, decision=decision, consent_version=consent_version,
                            reason="" if reason is None else reason, ip=ip,
                            user_agent=(user_agent or "").replace("\x00", "")[:USER_AGENT_MAX], created_at=now)
        _check_fields(approval)
        try:
            with transaction.atomic():
                approval.save(force_insert=True)
        except IntegrityError:
            if _has_decision(signal):  # a writer that skipped the lock got there first
                raise _already_decided() from None
            raise
        signal.status, signal.updated_at = approval.decision, now
        signal.save(update_fields=["status", "updated_at"])
        events.approval_created.send(
            sender=Approval, target=approval,
            meta={"signal": str(signal.pk), "decision": approval.decision,
                  "consent_version": approval.consent_version, "ip": approval.ip,
                  "user_agent": approval.user_agent},
        )
        transaction.on_commit(partial(metrics.count_decision, decision=approval.decision,
                                      seconds=(now - signal.created_at).total_seconds()))
    return approval


def _parse_signal_id(value) -> uuid.UUID:
    if value is None or value == "":
        raise ValidationError({"signal": ["This field is required."]})
    if not isinstance(value, str):
        raise ValidationError({"signal": ["Must be a signal id (a UUID string)."]})
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No such signal.") from None  # no signal can have that id


def _has_decision(signal: Signal) -> bool:
    return Approval.objects.filter(signal=signal).exists()


def _already_decided() -> Conflict:
    return Conflict("The signal already has a decision; decisions are final.", slug="already-decided")


def _check_fields(approval: Approval) -> None:
    errors = {}
    for name in ("decision", "consent_version", "reason"):
        value = getattr(approval, name)
        if value is None:
            errors[name] = ["This field is required."]
        elif not isinstance(value, str):
            errors[name] = ["Must be a string."]
    try:
        approval.full_clean(exclude=["signal", "user", "ip", "user_agent", *errors],
                            validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
