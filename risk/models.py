"""The risk policy's versions and the instruments' market hours. Written
only by risk/services.py."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.display import utc_time
from core.model_fields import decimal_field
from risk import market_hours
from risk.policy import SETTINGS, SETTINGS_BY_NAME
from signals.models import Instrument


# Stands for "no user" (the defaults' scope) where a NULL would not compare equal.
NO_USER = uuid.UUID(int=0)


def _percent(name):
    return models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True,
                               help_text=SETTINGS_BY_NAME[name].help_text)


def _count(name):
    return models.PositiveIntegerField(null=True, blank=True, help_text=SETTINGS_BY_NAME[name].help_text)


def _within_bounds():
    """A setting is empty or within its bounds."""
    return [models.CheckConstraint(
        condition=Q(**{f"{setting.name}__isnull": True})
        | Q(**{f"{setting.name}__gte": setting.minimum},
            **({f"{setting.name}__lte": setting.maximum} if setting.maximum is not None else {})),
        name=f"risk_policy_{setting.name}_bounds",
    ) for setting in SETTINGS if setting.minimum is not None]


class RiskPolicy(models.Model):
    """One version of the operators' defaults (no user: every setting set) or
    of one user's override (an empty setting takes the defaults' value).
    A change never edits a version: it supersedes the scope's current one
    with a new one. Versions are numbered across all scopes, so the newest
    number of the two a user's effective policy is made of names that pair."""

    version = models.PositiveIntegerField(unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="risk_policies",
                             help_text="Whose override this is; empty: the operators' defaults.")
    risk_per_trade_percent = _percent("risk_per_trade_percent")
    require_stop_loss = models.BooleanField(null=True, blank=True,
                                            help_text=SETTINGS_BY_NAME["require_stop_loss"].help_text)
    max_open_positions = _count("max_open_positions")
    max_daily_loss_percent = _percent("max_daily_loss_percent")
    max_drawdown_percent = _percent("max_drawdown_percent")
    min_equity = decimal_field(null=True, blank=True, help_text=SETTINGS_BY_NAME["min_equity"].help_text)
    cooldown_after_losses = _count("cooldown_after_losses")
    cooldown_minutes = _count("cooldown_minutes")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", editable=False, help_text="Who made this version.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False,
                                         help_text="When a newer version replaced it; empty: in force.")

    class Meta:
        ordering = ["-version"]
        verbose_name = "risk policy version"
        constraints = [
            # One current version per scope, the defaults' (no user) included.
            models.UniqueConstraint(Coalesce("user", Value(NO_USER, output_field=models.UUIDField())),
                                    condition=Q(superseded_at__isnull=True), name="risk_policy_one_current_per_scope",
                                    violation_error_message="This scope has a version in force: change that one."),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(**{f"{setting.name}__isnull": False for setting in SETTINGS}),
                name="risk_policy_defaults_complete"),
            *_within_bounds(),
        ]

    def __str__(self):
        scope = "defaults" if self.user_id is None else f"override of {self.user}"
        return f"{scope}, version {self.version} of {utc_time(self.created_at)}"

    def settings(self) -> dict:
        return {setting.name: getattr(self, setting.name) for setting in SETTINGS}


class MarketHours(models.Model):
    """An instrument's market hours; an instrument without a row follows the
    MARKET_HOURS_DEFAULT setting (`fx` unless told otherwise)."""

    class Schedule(models.TextChoices):
        FX = market_hours.FX, "FX and metals: closed Friday 17:00 to Sunday 17:00 New York time"
        ALWAYS = market_hours.ALWAYS, "Always open"

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, primary_key=True, related_name="+")
    schedule = models.CharField(max_length=6, choices=Schedule.choices)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["instrument"]
        verbose_name_plural = "market hours"

    def __str__(self):
        return f"{self.instrument}: {self.schedule}"
