from rest_framework import serializers

from audit import chain
from audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    """One audit entry, exactly the document its `hash` covers: recompute
    sha256(prev_hash + canonical JSON of the entry without `hash`) to check it."""

    ts = serializers.DateTimeField(read_only=True,
                                   help_text="RFC 3339 UTC with microseconds, e.g. 2026-11-26T07:00:00.123456Z")
    ip = serializers.IPAddressField(read_only=True, allow_null=True)
    meta = serializers.DictField(read_only=True,
                                 help_text="Details of the action; never a password, token, secret or signature.")
    prev_hash = serializers.CharField(read_only=True, help_text="`hash` of the entry before; 64 zeros for seq 1")
    hash = serializers.CharField(
        read_only=True,
        help_text="SHA-256 hex of the UTF-8 bytes of prev_hash followed by this entry's canonical JSON without "
                  "`hash` (keys sorted, no whitespace, non-ASCII unescaped)")

    class Meta:
        model = AuditEntry
        fields = ["id", "seq", "ts", "actor_type", "actor", "action", "target_type", "target_id", "status", "ip",
                  "user_agent", "request_id", "meta", "prev_hash", "hash"]
        read_only_fields = fields

    def to_representation(self, instance):
        # The fields above describe the schema; the output is the hashed
        # document itself, so API readers can always recompute the chain (a
        # second formatting path could drift from it).
        return chain.entry_document(instance)
