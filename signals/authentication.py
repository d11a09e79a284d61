"""Contract §2: HMAC-signed requests from producers (strategy engines).

Signed bytes: `<X-Timestamp> + "." + <raw body>`, HMAC-SHA256 keyed with the
secret's UTF-8 bytes, sent as `X-Signature: sha256=<lowercase hex>`. The
clock window is ±SIGNATURE_TOLERANCE_SECONDS. Every refusal is counted in
`signals_rejected_total{reason}` and audited as `signal.ingest_denied`, up to
the per-address budget of refusals (rate `signature_failure`); past it, 429.
"""

import hashlib
import hmac
import io
import re
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from signals import events, selectors
from signals.metrics import signals_rejected_total
from signals.models import Producer
from core import request_context
from core.client_ip import client_ip
from core.problems import PayloadTooLarge
from core.throttling import ScopedThrottle

TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
SIGNATURE_PREFIX = "sha256="
KEY_ID_MAX = Producer._meta.get_field("key_id").max_length
# Verified when the key id matches nothing, so an unknown producer costs the
# same HMAC work as a known one with a wrong signature.
_DECOY_SECRETS = ("decoy-secret-for-unknown-producers",)


class RefusalsThrottled(Throttled):
    """The address spent its budget of refused signatures (already counted
    in `signals_rejected_total` as `rate_limited`)."""


class SignatureRejected(AuthenticationFailed):
    """A 401 with its own problem type. The unknown-producer, disabled-producer
    and bad-signature cases raise the very same one, so the answer tells an
    attacker nothing about which key ids exist."""

    def __init__(self, detail, *, slug):
        super().__init__(detail)
        self.slug = slug


class SignatureFailureThrottle(ScopedThrottle):
    """Refused signed requests per client address. DRF's throttles only run
    once authentication has succeeded, so without this budget every forged
    request would cost a verification and an audit entry (written under the
    chain's single lock), and one address could stall every real write."""

    scope = "signature_failure"

    def get_cache_key(self, request, view):
        # Not principal_ident(): request.user would re-enter authentication.
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


def signature_hex(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def read_body_bounded(request, limit: int) -> bytes:
    """The raw body, reading at most `limit + 1` bytes from the stream: the
    middleware refuses a large Content-Length, this refuses a body that is
    longer than it claimed. The bytes are kept for the parsers."""
    http_request = request._request
    if hasattr(http_request, "_body"):
        body = http_request._body
    else:
        body = http_request.read(limit + 1)
        http_request._body = body
        http_request._stream = io.BytesIO(body)
    if len(body) > limit:
        raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
    return body


class ProducerSignatureAuthentication(BaseAuthentication):
    """Authenticates a producer; `request.user` and `request.auth` are the
    Producer. Reusable by every signed endpoint (signals, candles, equity)."""

    def authenticate_header(self, request):
        return 'Signature realm="producers", headers="X-Producer-Id X-Timestamp X-Signature"'

    def authenticate(self, request):
        key_id = request.META.get("HTTP_X_PRODUCER_ID", "")
        timestamp = request.META.get("HTTP_X_TIMESTAMP", "")
        signature = request.META.get("HTTP_X_SIGNATURE", "")
        if not (key_id and timestamp and signature):
            self.deny(request, "missing_header", key_id, SignatureRejected(
                "Signed requests need the X-Producer-Id, X-Timestamp and X-Signature headers.",
                slug="signature-missing"))
        tolerance = settings.SIGNATURE_TOLERANCE_SECONDS
        if not TIMESTAMP_RE.match(timestamp) or abs(time.time() - int(timestamp)) > tolerance:
            self.deny(request, "stale_timestamp", key_id, SignatureRejected(
                f"X-Timestamp must be integer unix seconds within {tolerance} s of the server clock.",
                slug="timestamp-out-of-range"))

        view = request.parser_context.get("view") if request.parser_context else None
        limit = getattr(view, "max_body_bytes", settings.API_MAX_BODY_BYTES)
        body = read_body_bounded(request, limit)  # 413, counted by the view like any oversized body

        provided = signature.strip().lower()
        provided = provided[len(SIGNATURE_PREFIX):] if provided.startswith(SIGNATURE_PREFIX) else ""
        provided = provided.encode("utf-8", "replace")
        producer, matched = self.verify(key_id, timestamp, body, provided)
        if not matched:
            # The credentials this worker keeps may predate a rotation made by
            # another process: a new secret must verify at once everywhere.
            producer, matched = self.verify(key_id, timestamp, body, provided, fresh=True)

        if producer is None or not producer.enabled or not matched:
            reason = ("unknown_producer" if producer is None
                      else "producer_disabled" if not producer.enabled else "bad_signature")
            self.deny(request, reason, key_id, SignatureRejected("The request signature could not be verified.",
                                                                 slug="signature-invalid"))
        request_context.set_actor("producer", producer.name)
        return producer, producer

    @staticmethod
    def verify(key_id: str, timestamp: str, body: bytes, provided: bytes, *, fresh=False):
        """(producer or None, whether `provided` is the signature under one of its live secrets)."""
        producer, secrets = (selectors.live_credentials(key_id, fresh=fresh) if len(key_id) <= KEY_ID_MAX
                             else (None, []))
        matched = False
        # No early exit: every live secret is tried, each in constant time.
        for secret in secrets or _DECOY_SECRETS:
            matched |= hmac.compare_digest(signature_hex(secret, timestamp, body).encode("ascii"), provided)
        return producer, matched

    @classmethod
    def deny(cls, request, reason: str, key_id: str, exc: SignatureRejected):
        """Refuses the request: a 401, or a 429 once the client address has
        spent its budget of refusals. The budget is consulted only here, after
        verification, never before it: the signature is the one thing that
        tells a producer from a forger behind the same address (a NAT, a
        shared egress proxy), so a valid request always passes, and the
        success path costs no cache round trip. What a flood can no longer
        multiply is the audit write: past the budget only the first refusal
        of each window is audited."""
        throttle = SignatureFailureThrottle()
        if not throttle.allow_request(request, None):
            signals_rejected_total.labels(reason="rate_limited").inc()
            wait = max(1.0, throttle.wait() or throttle.duration)
            if cache.add(f"{throttle.key}:audited", True, timeout=int(wait) + 1):
                cls.audit_denial("rate_limited", key_id)
            raise RefusalsThrottled(wait=wait, detail="Too many refused signed requests from this address; "
                                                      "try again later.")
        signals_rejected_total.labels(reason=reason).inc()
        cls.audit_denial(reason, key_id)
        raise exc

    @staticmethod
    def audit_denial(reason: str, key_id: str):
        # The caller is not authenticated: "producer" says what kind of client
        # knocked, the claimed key id (never the signature or body) which one.
        events.signal_ingest_denied.send(sender=Producer, target=None, status="failure",
                                         actor_type="producer", actor=None,
                                         meta={"reason": reason, "key_id": key_id[:KEY_ID_MAX]})
