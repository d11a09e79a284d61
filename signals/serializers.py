import json
import re

from rest_framework import serializers

from signals import resources, selectors
from signals.models import MAX_LAG_LIMIT_SECONDS, Signal
from core.fields import AmountField, ReportedTimeField, StrictIntegerField
from core.problems import PayloadTooLarge

PAYLOAD_MAX_BYTES = 32 * 1024
# A NUL as json.dumps writes it: \u0000 after an even number of backslashes
# (an odd number makes it the text "\u0000", a backslash escaped before it).
ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class ApprovalSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    decision = serializers.CharField()
    created_at = serializers.DateTimeField()


class SignalListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        return resources.signal_resources(data, request=self.context.get("request"))


# The fields describe the resource to the schema; signals/resources.py writes
# it. test_ingest checks that both list the same members.
class SignalSerializer(serializers.Serializer):
    """A signal in a user's feed (read-only)."""

    id = serializers.UUIDField(read_only=True)
    instrument = serializers.CharField(source="instrument.symbol")
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    time = serializers.DateTimeField()
    version = serializers.IntegerField()
    entry_price = AmountField()
    stop_loss = AmountField(allow_null=True)
    take_profit = AmountField(allow_null=True)
    payload = serializers.JSONField()
    status = serializers.ChoiceField(choices=Signal.Status.choices, read_only=True)
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    producer = serializers.CharField(source="producer.name")
    owner = serializers.CharField(source="owner.username")
    approval = ApprovalSummarySerializer(allow_null=True, read_only=True)
    chart_url = serializers.URLField(allow_null=True, read_only=True,
                                     help_text="Null while the signal has no bars to draw, rather than a link that "
                                               "answers 404.")

    class Meta:
        list_serializer_class = SignalListSerializer

    def to_representation(self, signal):
        return resources.signal_resources([signal], request=self.context.get("request"))[0]


class SignalIngestSerializer(serializers.Serializer):
    """The body of POST /api/v1/signals/. Unknown fields are ignored."""

    instrument = serializers.CharField(max_length=16, help_text="An enabled instrument, any case.")
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    time = ReportedTimeField(help_text="When the strategy produced the signal; at most 300 s ahead.")
    version = StrictIntegerField(min_value=1, max_value=2**31 - 1)
    entry_price = AmountField()
    stop_loss = AmountField(required=False, allow_null=True)
    take_profit = AmountField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text="After `time`; default `time` + the signal lifetime.")
    payload = serializers.JSONField(required=False, allow_null=True,
                                    help_text="A JSON object of at most 32 KiB serialized.")

    @property
    def fields(self):
        # DRF deep-copies the declared fields for every instance, a third of
        # the cost of validating a signal. These fields hold nothing of one
        # request (no context, never partial), so every instance shares one
        # copy, bound to an empty instance rather than to a request's data.
        cls = type(self)
        if "_shared_fields" not in cls.__dict__:
            cls._shared_fields = super(SignalIngestSerializer, cls()).fields
        return cls._shared_fields

    def validate_instrument(self, value):
        instrument = selectors.enabled_instrument(value)
        if instrument is None:
            raise serializers.ValidationError(f'"{value}" is not an enabled instrument.')
        return instrument

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
        if ESCAPED_NUL.search(serialized):  # no database stores NUL inside JSON text
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


class IngestAnswerSerializer(SignalSerializer):
    """The answer to an ingestion: the signal in its producer's owner's feed,
    and how many feeds the publication reached (the owner's and its
    subscribers'; a replay reports the first answer's count and reaches no
    one again). The signal is the document its new signal's events carry,
    rendered once for both, its `chart_url` made absolute."""

    deliveries = serializers.IntegerField(min_value=1)

    def to_representation(self, signal):
        resource = resources.ingested_resource(signal)
        chart_url, request = resource["chart_url"], self.context.get("request")
        if chart_url is not None and request is not None:
            chart_url = request.build_absolute_uri(chart_url)
        return {**resource, "chart_url": chart_url, "deliveries": signal.deliveries}


class ProducerSerializer(serializers.Serializer):
    """A producer as users see it (the public ones and their own)."""

    name = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    public = serializers.BooleanField()
    enabled = serializers.BooleanField(help_text="A disabled producer sends nothing; only its owner sees it.")
    max_lag = serializers.IntegerField(source="max_lag_seconds",
                                       help_text="Seconds an alert's `time` may be behind the server's clock.")
    subscribers = serializers.IntegerField(help_text="How many users subscribed to it.")
    subscribed = serializers.BooleanField(help_text="Whether you subscribed to it.")
    created_at = serializers.DateTimeField()


class ProducerUpdateSerializer(serializers.Serializer):
    """The body of PATCH /api/v1/producers/{name}/: either field or both."""

    public = serializers.BooleanField(required=False, help_text="Listed to every user, who may subscribe.")
    max_lag = StrictIntegerField(required=False, min_value=1, max_value=MAX_LAG_LIMIT_SECONDS,
                                 help_text="Seconds an alert's `time` may be behind the server's clock.")

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give public, max_lag or both.")
        return {"public": attrs.get("public"), "max_lag_seconds": attrs.get("max_lag")}


class AlertTokenSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Where the charting tool posts its alerts; it contains the token.")
    token = serializers.CharField(help_text="Shown this once: only its hash is stored.")


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    producer = serializers.CharField(source="producer.name")
    active = serializers.BooleanField(help_text="Whether the producer's next signals reach your feed: while it is "
                                                "public (or yours) and your account is active.")
    created_at = serializers.DateTimeField()


class SubscriptionCreateSerializer(serializers.Serializer):
    producer = serializers.CharField(max_length=100, help_text="The name of a public producer, or one of yours.")
