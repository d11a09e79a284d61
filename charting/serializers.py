from rest_framework import serializers

from charting.models import Timeframe
from charting.registry import Frame
from core.chart_frame import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from core.signed_links import MAX_TTL_SECONDS
from core.fields import AmountField, ReportedTimeField, StrictDecimalField, StrictIntegerField
from signals import selectors as signals_selectors

MAX_ROWS_PER_REQUEST = 5000


class CandleSerializer(serializers.Serializer):
    # A bar far ahead would stay the series' newest for good: drawn last on
    # every chart, and the paper bridge's mark price.
    time = ReportedTimeField(help_text="The bar's open; at most 300 s ahead of the server's clock.")
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
    time = ReportedTimeField(help_text="At most 300 s ahead of the server's clock.")
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

# The bounds of the JWT views. A signed link may be smaller: chats show
# embedded images as thumbnails, and a chart drawn at that size reads better
# than a big one scaled down. Below the link's minimum the title, the axis
# labels and the bars no longer fit (see docs/api.md#charts).
WIDTH_RANGE, HEIGHT_RANGE = (300, 2400), (200, 1600)
LINK_WIDTH_RANGE, LINK_HEIGHT_RANGE = (200, 2400), (120, 1600)


class _Frame(serializers.Serializer):
    def to_internal_value(self, data):
        # Here rather than in validate(): a chart kind's own parameters,
        # combined with these (chart_query_serializer), may have a validate()
        # of their own that does not chain up.
        attrs = super().to_internal_value(data)
        attrs["frame"] = Frame(width=attrs.pop("width"), height=attrs.pop("height"), bars=attrs.pop("bars"))
        return attrs


def _bars():
    return StrictIntegerField(min_value=10, max_value=1000, default=DEFAULT_BARS)


class FrameSerializer(_Frame):
    """The query parameters every chart takes (docs/api.md#charts)."""

    width = StrictIntegerField(min_value=WIDTH_RANGE[0], max_value=WIDTH_RANGE[1], default=DEFAULT_WIDTH)
    height = StrictIntegerField(min_value=HEIGHT_RANGE[0], max_value=HEIGHT_RANGE[1], default=DEFAULT_HEIGHT)
    bars = _bars()


class LinkFrameSerializer(_Frame):
    """The same for a signed link, which may be a thumbnail."""

    width = StrictIntegerField(min_value=LINK_WIDTH_RANGE[0], max_value=LINK_WIDTH_RANGE[1], default=DEFAULT_WIDTH)
    height = StrictIntegerField(min_value=LINK_HEIGHT_RANGE[0], max_value=LINK_HEIGHT_RANGE[1],
                                default=DEFAULT_HEIGHT)
    bars = _bars()


class CandleParamsSerializer(serializers.Serializer):
    """The candles chart's own parameters. Whether the instrument exists is
    looked up together with the chart's data version (charting/charts.py)."""

    instrument = serializers.CharField(max_length=16, help_text="A known instrument, any case.")
    timeframe = serializers.ChoiceField(choices=Timeframe.choices)


class SignalParamsSerializer(serializers.Serializer):
    timeframe = serializers.ChoiceField(choices=Timeframe.choices, required=False,
                                        help_text="Default: the first of H1, M15, H4, M30, M5, D1, M1 "
                                                  "with bars near the signal.")


class SignalChartSerializer(SignalParamsSerializer, FrameSerializer):
    """GET /api/v1/signals/{id}/chart/."""


class SignalLinkQuerySerializer(SignalParamsSerializer, LinkFrameSerializer):
    """The query of a signal chart's signed link."""


class SignalLinkParamsSerializer(SignalParamsSerializer):
    signal = serializers.UUIDField(help_text="For a signal's chart: one of the caller's signals.")


class ChartLinkSerializer(LinkFrameSerializer):
    """POST /api/v1/charts/links/: the chart, its size and how long the link
    works; the chart's own parameters come from its kind
    (`chart_query_serializer`)."""

    chart = serializers.CharField(max_length=32, help_text="candles, equity, returns, signal or another chart "
                                                           "kind of docs/api.md#charts.")
    ttl = StrictIntegerField(min_value=1, max_value=MAX_TTL_SECONDS, default=86400,
                             help_text="Seconds the link works, at most 604800 (7 days).")


def chart_query_serializer(name: str, params, base) -> type[serializers.Serializer]:
    """One serializer for a chart's own parameters (`params`, a serializer
    class or None) and `base`'s (the frame of a JWT view or of a link, or a
    link's whole body), so that every bad field is named in one answer."""
    bases = (params, base) if params is not None else (base,)
    title = "".join(part.title() for part in name.split("-"))
    return type(f"{title}{base.__name__}", bases, {"__module__": __name__})


class ChartLinkResponseSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
