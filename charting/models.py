"""Market data the charts draw: candles per instrument and timeframe, and each
user's account equity over time. Both are written only by bulk upserts
(charting/services.py) and never exposed one row at a time, so they keep the
compact auto-increment key instead of a UUID."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.model_fields import decimal_field
from signals.models import Instrument


class Timeframe(models.TextChoices):
    M1 = "M1"
    M5 = "M5"
    M15 = "M15"
    M30 = "M30"
    H1 = "H1"
    H4 = "H4"
    D1 = "D1"


TIMEFRAME_SECONDS = {"M1": 60, "M5": 300, "M15": 900, "M30": 1800, "H1": 3600, "H4": 14400, "D1": 86400}


class Candle(models.Model):
    """One OHLC bar; `time` is when the bar opens (UTC). `updated_at` moves on
    every upsert, which is what makes a cached chart of these bars stale."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="candles")
    timeframe = models.CharField(max_length=3, choices=Timeframe.choices)
    time = models.DateTimeField()
    open = decimal_field()
    high = decimal_field()
    low = decimal_field()
    close = decimal_field()
    volume = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["instrument", "timeframe", "-time"]
        constraints = [
            # The upsert key; its index also serves "the last N bars" (a
            # backward range scan) and "the bars around time T".
            models.UniqueConstraint(fields=["instrument", "timeframe", "time"], name="candle_series_time"),
            models.CheckConstraint(
                condition=(models.Q(high__gte=models.F("open")) & models.Q(high__gte=models.F("close"))
                           & models.Q(low__lte=models.F("open")) & models.Q(low__lte=models.F("close"))),
                name="candle_high_low_bound_prices"),
            models.CheckConstraint(condition=models.Q(low__gt=0), name="candle_prices_positive"),
            models.CheckConstraint(condition=models.Q(volume__gte=0), name="candle_volume_not_negative"),
        ]
        indexes = [
            # The data version of a series' charts: MAX(updated_at) without a scan.
            models.Index(fields=["instrument", "timeframe", "updated_at"], name="candle_series_updated_idx"),
        ]

    def __str__(self):
        return f"{self.instrument_id} {self.timeframe} {self.time:%Y-%m-%d %H:%M}"


class EquityPoint(models.Model):
    """A user's account equity and balance at one moment, as their producer
    reported it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="equity_points")
    time = models.DateTimeField()
    equity = decimal_field()
    balance = decimal_field()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["owner", "-time"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "time"], name="equity_owner_time"),
        ]
        indexes = [
            # The data version of a user's equity charts: MAX(updated_at) without a scan.
            models.Index(fields=["owner", "updated_at"], name="equity_owner_updated_idx"),
        ]

    def __str__(self):
        return f"{self.owner_id} {self.time:%Y-%m-%d %H:%M} {self.equity}"


class UpsertReceipt(models.Model):
    """A signed market-data request already applied, kept while its signature
    is still accepted. The very same request again (a replay captured on the
    wire, or the producer's own retry) gets the answer it had and writes
    nothing: a request signed earlier never overwrites a later correction.
    Written and pruned by charting/services.py."""

    producer = models.ForeignKey("signals.Producer", on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, help_text="SHA-256 hex of the signed bytes: timestamp, '.', body.")
    inserted = models.PositiveIntegerField()
    updated = models.PositiveIntegerField()
    valid_until = models.DateTimeField(help_text="When the request's signature stops being accepted.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["producer", "digest"], name="upsert_receipt_once"),
        ]
        indexes = [
            models.Index(fields=["valid_until"], name="upsert_receipt_valid_idx"),
        ]

    def __str__(self):
        return f"{self.producer_id} {self.digest[:12]}"
