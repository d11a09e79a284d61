"""Producers' signed requests: the machine clients' signature check
(machines/authentication.py) with `X-Producer-Id`, realm "producers". Every
refusal is counted in `signals_rejected_total{reason}` and audited as
`signal.ingest_denied`."""

from rest_framework.permissions import BasePermission

from core.throttling import ScopedThrottle
from machines.authentication import SignatureAuthentication, SignedRequest, read_body_bounded, signature_hex
from signals import events
from signals.metrics import signals_rejected_total
from signals.models import Producer

# Names the signed endpoints and their tests have always imported from here.
__all__ = ["IsProducer", "ProducerSignatureAuthentication", "ProducerThrottle", "SignedRequest",
           "read_body_bounded", "signature_hex"]


class ProducerSignatureAuthentication(SignatureAuthentication):
    """Authenticates a producer: `request.user` is the Producer,
    `request.auth` a SignedRequest. Reusable by every signed endpoint
    (signals, candles, equity)."""

    client_model = Producer
    key_header = "X-Producer-Id"
    realm = "producers"
    kind = "producer"

    def count_denial(self, reason: str) -> None:
        signals_rejected_total.labels(reason=reason).inc()

    def audit_denial(self, reason: str, key_id: str) -> None:
        # The caller is not authenticated: "producer" says what kind of client
        # knocked, the claimed key id (never the signature or body) which one.
        events.signal_ingest_denied.send(sender=Producer, target=None, status="failure",
                                         actor_type="producer", actor=None,
                                         meta={"reason": reason, "key_id": key_id})


class IsProducer(BasePermission):
    """Only a producer authenticated by its signature: the permission of
    every signed endpoint (signals, candles, equity)."""

    def has_permission(self, request, view):
        return isinstance(request.user, Producer)


class ProducerThrottle(ScopedThrottle):
    """Signed requests per producer (rate `producer`)."""

    scope = "producer"
