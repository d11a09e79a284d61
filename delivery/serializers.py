"""Webhook endpoints and their deliveries on the wire. The URL is checked
here (delivery/addresses.py): a target webhooks may not reach is a 422
naming `url`, and nothing is stored."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictIntegerField
from delivery import addresses
from delivery.models import URL_MAX_LENGTH, Delivery, DeliveryAttempt, EventType, WebhookEndpoint
from delivery.services import DEFAULT_GRACE_SECONDS

MAX_GRACE_SECONDS = 7 * 86400


class WebhookUrlField(serializers.URLField):
    def __init__(self, **kwargs):
        super().__init__(max_length=URL_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data):
        try:
            return addresses.checked_url(super().to_internal_value(data))
        except addresses.RefusedTarget as refused:
            raise serializers.ValidationError(str(refused)) from None


def _event_types(**kwargs):
    return serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), min_length=1,
                                 max_length=len(EventType.choices), **kwargs)


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook endpoint (never its secret)."""

    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    disabled_reason = serializers.CharField(help_text="Why it was disabled; empty while enabled.")
    failing_since = serializers.DateTimeField(allow_null=True,
                                              help_text="Start of the current run of failed attempts.")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then deliveries carry a signature by the secret before the last rotation.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "enabled", "disabled_at", "disabled_reason", "consecutive_failures",
                  "failing_since", "previous_secret_expires_at", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="Shown this once: `whsec_` and the base64 of the signing key.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = WebhookUrlField(help_text="http(s); its host must resolve to public addresses only "
                                    "(or to the operator's WEBHOOK_ALLOWED_NETWORKS).")
    events = _event_types(help_text="The event types to send.")


class WebhookUpdateSerializer(serializers.Serializer):
    url = WebhookUrlField(required=False)
    events = _event_types(required=False)
    enabled = serializers.BooleanField(required=False, help_text="false: nothing is sent and unsent deliveries "
                                                                 "fail; true: sending starts again.")


class RotateSecretSerializer(serializers.Serializer):
    grace_seconds = StrictIntegerField(
        min_value=0, max_value=MAX_GRACE_SECONDS, default=DEFAULT_GRACE_SECONDS,
        help_text="How long deliveries are signed with the old secret too; 0 ends it at once.")


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Shown this once.")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["started_at", "duration_ms", "status_code", "error", "succeeded"]
        read_only_fields = fields


class DeliveryEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=EventType.choices)
    created_at = serializers.DateTimeField()


class DeliverySerializer(serializers.ModelSerializer):
    event = DeliveryEventSerializer()
    next_attempt_at = serializers.SerializerMethodField()
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "event", "status", "attempts", "next_attempt_at", "last_status_code", "last_error",
                  "created_at", "finished_at", "attempt_log"]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, delivery):
        """When it is tried again (not before its endpoint's rest ends); null
        once it succeeded or failed for good."""
        if delivery.status != Delivery.Status.PENDING:
            return None
        resting_until = delivery.endpoint.paused_until
        due = max(delivery.next_attempt_at, resting_until) if resting_until else delivery.next_attempt_at
        return serializers.DateTimeField().to_representation(due)


class StreamTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Opens one event stream as `?token=` within 60 s.")
    expires_at = serializers.DateTimeField()
