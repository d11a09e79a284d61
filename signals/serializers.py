import json
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from charting.links import signal_chart_url
from signals import selectors
from signals.models import Signal
from tradeplatform.problems import PayloadTooLarge

PAYLOAD_MAX_BYTES = 32 * 1024
FUTURE_TOLERANCE_SECONDS = 300
PRICE_MAX_DIGITS = Signal._meta.get_field("entry_price").max_digits
PRICE_DECIMAL_PLACES = Signal._meta.get_field("entry_price").decimal_places


def format_price(value: Decimal | None, digits: int) -> str | None:
    """At least the instrument's quoted precision ("1.08450" for EURUSD), more
    when the strategy sent more: a price is never rounded on the way out."""
    if value is None:
        return None
    exponent = value.normalize().as_tuple().exponent
    return f"{value:.{max(digits, -exponent)}f}"


class PriceField(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, **kwargs)

    def get_attribute(self, instance):
        return super().get_attribute(instance), instance.instrument.digits

    def to_representation(self, value):
        price, digits = value
        return format_price(price, digits)


class ApprovalSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    decision = serializers.CharField()
    created_at = serializers.DateTimeField()


class SignalSerializer(serializers.Serializer):
    """The signal resource of contract §3 (read-only). Declared field by field
    rather than as a ModelSerializer: introspecting the model on every
    instantiation was a measurable share of each ingestion request."""

    id = serializers.UUIDField(read_only=True)
    instrument = serializers.CharField(source="instrument.symbol")
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    time = serializers.DateTimeField()
    version = serializers.IntegerField()
    entry_price = PriceField()
    stop_loss = PriceField(allow_null=True)
    take_profit = PriceField(allow_null=True)
    payload = serializers.JSONField()
    status = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    producer = serializers.CharField(source="producer.name")
    owner = serializers.CharField(source="owner.username")
    approval = serializers.SerializerMethodField()
    chart_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=Signal.Status.choices))
    def get_status(self, signal) -> str:
        return signal.effective_status()

    @extend_schema_field(ApprovalSummarySerializer(allow_null=True))
    def get_approval(self, signal):
        approval = getattr(signal, "approval", None)  # joined by selectors.signal_queryset(); None if undecided
        return ApprovalSummarySerializer(approval).data if approval is not None else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_chart_url(self, signal):
        return signal_chart_url(signal, request=self.context.get("request"))


class SignalIngestSerializer(serializers.Serializer):
    """The body of POST /api/v1/signals/ (contract §3). Unknown fields are ignored."""

    instrument = serializers.CharField(max_length=16, help_text="An enabled instrument, any case.")
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    time = serializers.DateTimeField(help_text="When the strategy produced the signal; at most 300 s ahead.")
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    entry_price = serializers.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES)
    stop_loss = serializers.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES,
                                         required=False, allow_null=True)
    take_profit = serializers.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES,
                                           required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text="After `time`; default `time` + the signal lifetime.")
    payload = serializers.JSONField(required=False, allow_null=True,
                                    help_text="A JSON object of at most 32 KiB serialized.")

    def validate_instrument(self, value):
        instrument = selectors.enabled_instrument(value)
        if instrument is None:
            raise serializers.ValidationError(f'"{value}" is not an enabled instrument.')
        return instrument

    def validate_time(self, value):
        if value > timezone.now() + timedelta(seconds=FUTURE_TOLERANCE_SECONDS):
            raise serializers.ValidationError(f"Must not be more than {FUTURE_TOLERANCE_SECONDS} s in the future.")
        return value

    def _positive(self, value):
        if value is not None and value <= 0:
            raise serializers.ValidationError("Must be greater than 0.")
        return value

    validate_entry_price = validate_stop_loss = validate_take_profit = _positive

    def validate_payload(self, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        serialized = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if len(serialized.encode("utf-8")) > PAYLOAD_MAX_BYTES:
            raise PayloadTooLarge(f"The payload exceeds {PAYLOAD_MAX_BYTES} bytes serialized.",
                                  slug="payload-too-large")
        if "\\u0000" in serialized:  # no database stores NUL inside JSON text
            raise serializers.ValidationError("Must not contain NUL characters.")
        return value

    def validate(self, attrs):
        errors = {}
        side, entry = attrs["side"], attrs["entry_price"]
        stop_loss, take_profit = attrs.get("stop_loss"), attrs.get("take_profit")
        below, above = ("stop_loss", "take_profit") if side == Signal.Side.BUY else ("take_profit", "stop_loss")
        levels = {"stop_loss": stop_loss, "take_profit": take_profit}
        if levels[below] is not None and not levels[below] < entry:
            errors[below] = [f"Must be below entry_price for a {side} signal."]
        if levels[above] is not None and not levels[above] > entry:
            errors[above] = [f"Must be above entry_price for a {side} signal."]
        expires_at = attrs.get("expires_at")
        if expires_at is not None and expires_at <= attrs["time"]:
            errors["expires_at"] = ["Must be after time."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs
