"""Daily rollups of the trading records, so that a summary reads a bounded
number of rows however long the history: one row per scope and UTC day, and
per scope the fold of its older days. Derived data, written only by
analytics/rollups.py inside the transactions of the records they come from
(`recompute_analytics` rebuilds them from those records).

A scope is an account (a bridge), a strategy (a producer, over the positions
its signals opened in every subscriber's account), or either of them on one
instrument."""

from django.db import models

from core.model_fields import decimal_field
from execution.models import Bridge
from signals.models import Instrument, Producer


def _ratio_field(places: int, **options) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=places, **options)


class ScopeFields(models.Model):
    scope = models.CharField(max_length=100, help_text="account:<bridge>, strategy:<producer>, "
                                                       "either with :<instrument id>.")
    bridge = models.ForeignKey(Bridge, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    producer = models.ForeignKey(Producer, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, null=True, blank=True, related_name="+")

    class Meta:
        abstract = True


class DailyRollup(ScopeFields):
    """One scope's UTC day: the positions that closed in it (stats.Trades,
    in close order), an account's equity over it, a strategy's return."""

    day = models.DateField()
    # Positions closed this day (stats.Trades' fields).
    trades = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    breakeven = models.PositiveIntegerField(default=0)
    gross_profit = decimal_field(default=0)
    gross_loss = decimal_field(default=0)
    largest_win = decimal_field(null=True, blank=True)
    largest_loss = decimal_field(null=True, blank=True)
    r_sum = _ratio_field(9, default=0)
    r_trades = models.PositiveIntegerField(default=0)
    hold_seconds = models.BigIntegerField(default=0)
    lead_losses = models.PositiveIntegerField(default=0)
    trail_losses = models.PositiveIntegerField(default=0)
    max_losses = models.PositiveIntegerField(default=0)
    # The last close folded in: one that closed earlier arrives late, and the
    # day's loss streaks (all that the order decides) are counted again from
    # its closes in close order.
    last_close_time = models.DateTimeField(null=True, blank=True)
    last_position = models.UUIDField(null=True, blank=True)
    # The loss streaks of the positions closed before last_close_time: many
    # positions close at one bar's time and arrive in any order of their
    # ids, and one sorting before the last folded is placed by reading
    # again only those closed at that time, not the whole day.
    before_trades = models.PositiveIntegerField(default=0)
    before_lead_losses = models.PositiveIntegerField(default=0)
    before_trail_losses = models.PositiveIntegerField(default=0)
    before_max_losses = models.PositiveIntegerField(default=0)
    # An account: the day's last snapshot, the base it is measured from (the
    # last snapshot before the day; the day's first on the account's first
    # day) and the money of the fills between the two (what explains the
    # change of balance; the rest is deposits and withdrawals).
    base_time = models.DateTimeField(null=True, blank=True)
    base_equity = decimal_field(null=True, blank=True)
    base_balance = decimal_field(null=True, blank=True)
    close_time = models.DateTimeField(null=True, blank=True)
    close_equity = decimal_field(null=True, blank=True)
    close_balance = decimal_field(null=True, blank=True)
    fills_money = decimal_field(default=0)
    # A strategy: the sum of its closed positions' P&L as fractions of the
    # equity each was sized at, and the accounts they were in (the day's
    # return is the average account's).
    return_sum = _ratio_field(12, default=0)
    accounts = models.JSONField(default=list, blank=True)
    # Folded into the scope's totals: a change to it folds them again.
    sealed = models.BooleanField(default=False)
    # One more with each write of the row (rollups.py): what a chart's data
    # version sums, as a late snapshot or a revision may rewrite a day and
    # leave every total of the window as it was.
    revision = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["scope", "day"]
        constraints = [models.UniqueConstraint(fields=["scope", "day"], name="rollup_once_per_scope_day")]
        indexes = [
            models.Index(fields=["bridge", "day"], name="rollup_bridge_day_idx"),
            models.Index(fields=["producer", "day"], name="rollup_producer_day_idx"),
        ]

    def __str__(self):
        return f"{self.scope} {self.day}"


class ScopeTotals(ScopeFields):
    """A scope's days up to `sealed_through` folded (stats.Trades and
    stats.Returns as JSON), so that all of its history is this row and the
    few days after it. Days a little behind the newest stay unsealed, as
    late fills and closes still change them."""

    sealed_through = models.DateField(null=True, blank=True)
    newest_day = models.DateField(null=True, blank=True)
    trades = models.JSONField(default=dict)
    returns = models.JSONField(default=dict)

    class Meta:
        ordering = ["scope"]
        constraints = [models.UniqueConstraint(fields=["scope"], name="totals_once_per_scope")]
        indexes = [models.Index(fields=["producer", "instrument"], name="totals_producer_idx")]

    def __str__(self):
        return self.scope


class StrategyLeaderboard(ScopeTotals):
    """The console's page of every strategy's figures (analytics/admin.py)."""

    class Meta:
        proxy = True
        verbose_name = "strategy leaderboard"
        verbose_name_plural = "strategy leaderboard"
