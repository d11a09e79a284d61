from rest_framework import serializers

from charting import selectors
from charting.charts import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH, Frame
from core.signed_links import MAX_TTL_SECONDS
from charting.models import Timeframe
from core.fields import AmountField, StrictDecimalField, StrictIntegerField
from signals import selectors as signals_selectors

MAX_ROWS_PER_REQUEST = 5000


class CandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    open = AmountField(min_value=0)
    high = AmountField(min_value=0)
    low = AmountField(min_value=0)
    close = AmountField(min_value=0)
    volume = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False, default=0)

    def validate(self, attrs):
        errors = {}
        # high < low is reported once, on high.
        if any(attrs["high"] < attrs[name] for name in ("open", "low", "close")):
            errors["high"] = ["Must be greater than or equal to open, low and close."]
        if any(attrs["low"] > attrs[name] for name in ("open", "close")):
            errors["low"] = ["Must be less than or equal to open, high and close."]
        elif attrs["low"] <= 0:
            errors["low"] = ["Must be greater than 0."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _unique_times(rows, field):
    """One row per time in a request: the upsert cannot touch one row twice."""
    seen = {}
    errors = [{} for _ in rows]
    for index, row in enumerate(rows):
        if row["time"] in seen:
            errors[index] = {"time": [f"Repeats the time of {field}.{seen[row['time']]}."]}
        seen.setdefault(row["time"], index)
    if any(errors):
        raise serializers.ValidationError({field: errors})


class _Batch(serializers.Serializer):
    """A request carrying up to MAX_ROWS_PER_REQUEST rows in `rows_field`."""

    rows_field = ""

    def to_internal_value(self, data):
        # Before any row is validated, and with the error on the list's own
        # name (DRF's list limits would say "<name>.non_field_errors").
        rows = data.get(self.rows_field) if isinstance(data, dict) else None
        if isinstance(rows, list) and not 1 <= len(rows) <= MAX_ROWS_PER_REQUEST:
            raise serializers.ValidationError(
                {self.rows_field: [f"Send between 1 and {MAX_ROWS_PER_REQUEST} items per request."]})
        return super().to_internal_value(data)

    def validate(self, attrs):
        _unique_times(attrs[self.rows_field], self.rows_field)
        return attrs


class CandleBatchSerializer(_Batch):
    """The body of POST /api/v1/candles/."""

    rows_field = "candles"
    instrument = serializers.CharField(max_length=16)
    timeframe = serializers.ChoiceField(choices=Timeframe.choices)
    candles = CandleSerializer(many=True)

    def validate_instrument(self, value):
        instrument = signals_selectors.enabled_instrument(value)
        if instrument is None:
            raise serializers.ValidationError(f'"{value}" is not an enabled instrument.')
        return instrument


class EquityPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    equity = AmountField()
    balance = AmountField()


class EquityBatchSerializer(_Batch):
    """The body of POST /api/v1/equity/."""

    rows_field = "points"
    points = EquityPointSerializer(many=True)


class UpsertResultSerializer(serializers.Serializer):
    inserted = serializers.IntegerField()
    updated = serializers.IntegerField()


# --- chart parameters -------------------------------------------------------------

class FrameSerializer(serializers.Serializer):
    """The query parameters every chart takes (docs/api.md#charts)."""

    width = StrictIntegerField(min_value=300, max_value=2400, default=DEFAULT_WIDTH)
    height = StrictIntegerField(min_value=200, max_value=1600, default=DEFAULT_HEIGHT)
    bars = StrictIntegerField(min_value=10, max_value=1000, default=DEFAULT_BARS)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs["frame"] = Frame(width=attrs.pop("width"), height=attrs.pop("height"), bars=attrs.pop("bars"))
        return attrs


class CandleChartSerializer(FrameSerializer):
    # Looked up together with the chart's data version (charting/charts.py).
    instrument = serializers.CharField(max_length=16, help_text="A known instrument, any case.")
    timeframe = serializers.ChoiceField(choices=Timeframe.choices)


class SignalChartSerializer(FrameSerializer):
    timeframe = serializers.ChoiceField(choices=Timeframe.choices, required=False,
                                        help_text="Default: the first of H1, M15, H4, M30, M5, D1, M1 "
                                                  "with bars near the signal.")


class ChartLinkSerializer(FrameSerializer):
    """POST /api/v1/charts/links/: the chart and its parameters, as for the
    chart's own endpoint, and how long the link works."""

    chart = serializers.ChoiceField(choices=["candles", "equity", "returns"])
    instrument = serializers.CharField(max_length=16, required=False)
    timeframe = serializers.ChoiceField(choices=Timeframe.choices, required=False)
    ttl = StrictIntegerField(min_value=1, max_value=MAX_TTL_SECONDS, default=86400,
                             help_text="Seconds the link works, at most 604800 (7 days).")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["chart"] == "candles":
            errors = {name: ["This field is required for a candles chart."]
                      for name in ("instrument", "timeframe") if not attrs.get(name)}
            if errors:
                raise serializers.ValidationError(errors)
            instrument = selectors.instrument_by_symbol(attrs["instrument"])
            if instrument is None:
                raise serializers.ValidationError({"instrument": [f'"{attrs["instrument"]}" is not a known '
                                                                  "instrument."]})
            attrs["instrument"] = instrument.symbol
        else:
            attrs.pop("instrument", None)
            attrs.pop("timeframe", None)
        return attrs


class ChartLinkResponseSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
