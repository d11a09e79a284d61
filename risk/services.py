"""Every write of the risk app, each in one transaction that sends its
domain event (audited with before and after).

A policy change never edits a version: it supersedes the scope's current
version (one UPDATE guarded by "still current", whose row count says
whether another change got there first) and adds the next version. Of two
changes of one scope at once, the later is a 409 and changes nothing.
Versions are numbered across all scopes and unique: a number another
scope's change took meanwhile is refused by the database, and the next one
is tried.
"""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from core.problems import Conflict
from risk import events, policy, selectors
from risk.models import MarketHours, RiskPolicy

CHANGED_MEANWHILE = "The risk policy was changed meanwhile: read it again and retry."
# Numbers tried for a new version while other scopes' changes take them.
VERSION_ATTEMPTS = 5


def _scope_versions(user):
    versions = selectors.current_versions()
    return versions.filter(user__isnull=True) if user is None else versions.filter(user=user)


def policy_errors(*, user, values: dict) -> dict[str, list[str]]:
    """What is wrong with `values` (every setting; None: not set) as the
    defaults (`user` None: every setting required) or as `user`'s override,
    by setting; empty when nothing is."""
    errors = policy.bound_errors(values)
    if user is None:
        for name, value in values.items():
            if value is None:
                errors.setdefault(name, []).append("The defaults need every setting.")
    return errors


def _supersede(*, user, current: RiskPolicy | None, values: dict, changed_by, now) -> RiskPolicy:
    """The scope's new current version with `values`, or `current` when they
    are its settings already (no change, no version). `current` is the
    scope's current version as the caller read it, before it made `values`:
    if another change superseded it since, this one is a 409, never a
    version made from stale settings. A user without an override has one
    that sets nothing."""
    before = current.settings() if current else None if user is None else dict.fromkeys(policy.NAMES)
    if before == values:
        return current
    if current is not None and not RiskPolicy.objects.filter(
            pk=current.pk, superseded_at__isnull=True).update(superseded_at=now):
        raise Conflict(CHANGED_MEANWHILE, slug="risk-policy-changed")
    version = _next_version(user=user, values=values, changed_by=changed_by, now=now)
    events.policy_changed.send(sender=RiskPolicy, target=version, meta={
        "scope": "defaults" if user is None else "override", "user": None if user is None else user.get_username(),
        "version": version.version, "previous_version": current.version if current else None,
        "before": before, "after": values,
    })
    return version


def _next_version(*, user, values: dict, changed_by, now) -> RiskPolicy:
    """Adds the scope's new version under the next free number. The
    database refuses a number another change took meanwhile, and a second
    current version of the scope: the first is retried, the second is a 409."""
    for _ in range(VERSION_ATTEMPTS):
        number = (RiskPolicy.objects.aggregate(newest=Max("version"))["newest"] or 0) + 1
        try:
            with transaction.atomic():
                return RiskPolicy.objects.create(version=number, user=user, changed_by=changed_by, created_at=now,
                                                 **values)
        except IntegrityError:
            if _scope_versions(user).exists():  # this scope's change committed first
                break
    raise Conflict(CHANGED_MEANWHILE, slug="risk-policy-changed")


def set_policy(*, user, values: dict, changed_by) -> RiskPolicy:
    """An operator's change: `values` (every setting) become the new version
    of the defaults (`user` None) or of `user`'s override (None: the
    defaults' value). ValidationError (by setting) when `policy_errors`
    finds something."""
    values = {name: values[name] for name in policy.NAMES}
    with transaction.atomic():
        errors = policy_errors(user=user, values=values)
        if errors:
            raise ValidationError(errors)
        return _supersede(user=user, current=_scope_versions(user).first(), values=values, changed_by=changed_by,
                          now=timezone.now())


def tighten_own_policy(*, user, changes: dict) -> policy.Policy:
    """A user's change of their own override: each setting in `changes` must
    be within its bounds and at least as strict as the value in force;
    ValidationError naming every other one. A setting given the value in
    force is left as it is. Returns the effective policy."""
    with transaction.atomic():
        # The override first: the policy in force, read after it, is as new
        # or newer, and a newer one means the override was superseded, which
        # `_supersede` refuses (so no change is judged against older values
        # than the ones it is made from).
        override = _scope_versions(user).first()
        in_force = selectors.effective_policy(user_id=user.pk)
        errors = policy.bound_errors(changes)
        for name, messages in policy.loosened(current=in_force, proposed=changes).items():
            errors.setdefault(name, []).extend(messages)
        if errors:
            raise ValidationError(errors)
        # A value already in force changes nothing: kept out of the override,
        # where it would pin the user to it when the defaults tighten later.
        changes = {name: value for name, value in changes.items() if value != getattr(in_force, name)}
        values = {**(override.settings() if override else dict.fromkeys(policy.NAMES)), **changes}
        _supersede(user=user, current=override, values=values, changed_by=user, now=timezone.now())
    return selectors.effective_policy(user_id=user.pk)


def set_market_hours(*, instrument, schedule: str) -> MarketHours:
    """`fx` or `always` for the instrument from now on."""
    with transaction.atomic():
        row = MarketHours.objects.select_for_update().filter(instrument=instrument).first()
        before = row.schedule if row else None
        if before == schedule:
            return row
        row, _ = MarketHours.objects.update_or_create(instrument=instrument,
                                                      defaults={"schedule": schedule, "updated_at": timezone.now()})
        events.market_hours_changed.send(sender=MarketHours, target=row, meta={
            "instrument": instrument.symbol, "before": before, "after": schedule})
    return row
