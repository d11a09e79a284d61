"""Producers' signed requests: the machine clients' signature check
(machines/authentication.py) with `X-Producer-Id`, realm "producers". Every
refusal is counted in `signals_rejected_total{reason}` and audited as
`signal.ingest_denied`."""

from http import HTTPStatus

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from core import request_context
from core.throttling import ScopedThrottle
from machines.authentication import (SignatureAuthentication, SignedRequest, read_body_bounded, refuse,
                                     signature_hex)
from signals import events, selectors
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


class UnknownAlertToken(NotFound):
    """An alert hook URL whose token is unknown, revoked or its producer's
    disabled: the very answer of a URL that matches no route."""

    default_detail = HTTPStatus.NOT_FOUND.description


# Tokens are "tpa_" and 43 characters; anything much longer is not one, and not hashed.
ALERT_TOKEN_MAX_LENGTH = 128


class AlertTokenAuthentication(BaseAuthentication):
    """The alert hook's credential: the producer's token in the URL (charting
    tools send no headers of their own). `request.user` is the producer.
    Refusals are counted, audited and budgeted per client address like
    refused signatures (`machines.authentication.refuse`)."""

    def authenticate(self, request):
        token = request.parser_context["kwargs"].get("token", "")
        producer = selectors.producer_of_alert_token(token) if len(token) <= ALERT_TOKEN_MAX_LENGTH else None
        if producer is None:
            refuse(request, reason="unknown_alert_token", exc=UnknownAlertToken(),
                   count=lambda reason: signals_rejected_total.labels(reason=reason).inc(),
                   audit=lambda reason: events.signal_ingest_denied.send(
                       sender=Producer, target=None, status="failure", actor_type="producer", actor=None,
                       meta={"reason": reason, "via": "alert-hook"}))
        request_context.set_actor("producer", producer.name)
        return producer, None


class AlertHookThrottle(ScopedThrottle):
    """Alerts per producer's token (rate `alert_hook`)."""

    scope = "alert_hook"
