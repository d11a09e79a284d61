"""Reads of the risk app: a user's effective policy, an instrument's market
hours."""

from django.conf import settings
from django.db.models import QuerySet

from core import raw_rows
from risk import policy
from risk.models import RiskPolicy


def current_versions() -> QuerySet[RiskPolicy]:
    return RiskPolicy.objects.filter(superseded_at__isnull=True)


# Written out rather than built with the ORM: every new order and every
# account snapshot reads it, and building the ORM's query cost several
# times what running it does (core/raw_rows.py).
CURRENT_POLICIES_SQL = f"""
SELECT user_id, version, {", ".join(policy.NAMES)} FROM {RiskPolicy._meta.db_table}
WHERE superseded_at IS NULL AND (user_id IS NULL OR user_id = %(user)s)"""
CURRENT_POLICIES_COLUMNS = tuple(RiskPolicy._meta.get_field(name) for name in ("user", "version", *policy.NAMES))


def effective_policy(*, user_id) -> policy.Policy:
    """The user's override over the operators' defaults, in one query."""
    rows = raw_rows.fetch(CURRENT_POLICIES_SQL, {"user": raw_rows.param(RiskPolicy._meta.get_field("user"), user_id)},
                          CURRENT_POLICIES_COLUMNS)
    defaults = override = (None, 0)  # (settings, version) of each scope
    for user, version, *values in rows:
        if user is None:
            defaults = (dict(zip(policy.NAMES, values)), version)
        else:
            override = (dict(zip(policy.NAMES, values)), version)
    return policy.effective(defaults=defaults[0], defaults_version=defaults[1], override=override[0],
                            override_version=override[1])


def market_schedule_or_default(schedule: str | None) -> str:
    """`fx` or `always`: the instrument's own, else the deployment's default."""
    return schedule or settings.MARKET_HOURS_DEFAULT
