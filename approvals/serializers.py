from rest_framework import serializers

from approvals.models import Approval, ConsentText


class ConsentTextSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentText
        fields = ["version", "text", "published_at"]


class ApprovalSerializer(serializers.ModelSerializer):
    """The approval resource."""

    class Meta:
        model = Approval
        fields = ["id", "signal", "decision", "consent_version", "reason", "ip", "user_agent", "created_at"]
        read_only_fields = fields


class DecisionRequestSerializer(serializers.Serializer):
    """The request body as documented in the OpenAPI schema. The rules
    themselves are applied by `approvals.services.decide_signal`, after the
    checks on the signal: a 404, 403 or 409 comes before any 422."""

    signal = serializers.UUIDField()
    decision = serializers.ChoiceField(choices=Approval.Decision.choices)
    consent_version = serializers.CharField(max_length=Approval._meta.get_field("consent_version").max_length)
    reason = serializers.CharField(max_length=Approval._meta.get_field("reason").max_length, required=False,
                                   allow_blank=True)
