"""Reads of the risk app: a user's effective policy, an instrument's market
hours."""

from django.conf import settings
from django.db.models import Q, QuerySet

from risk import policy
from risk.models import MarketHours, RiskPolicy


def current_versions() -> QuerySet[RiskPolicy]:
    return RiskPolicy.objects.filter(superseded_at__isnull=True)


def effective_policy(*, user_id) -> policy.Policy:
    """The user's override over the operators' defaults, in one query."""
    defaults = override = None
    for row in current_versions().filter(Q(user__isnull=True) | Q(user_id=user_id)):
        if row.user_id is None:
            defaults = row
        else:
            override = row
    return policy.effective(defaults=defaults.settings() if defaults else None,
                            defaults_version=defaults.version if defaults else 0,
                            override=override.settings() if override else None,
                            override_version=override.version if override else 0)


def market_schedule(*, instrument_id) -> str:
    """`fx` or `always`: the instrument's own, else the deployment's default."""
    schedule = (MarketHours.objects.filter(instrument_id=instrument_id).order_by()
                .values_list("schedule", flat=True).first())
    return schedule or settings.MARKET_HOURS_DEFAULT
