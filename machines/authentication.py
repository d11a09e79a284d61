"""HMAC-signed requests from machine clients (producers, bridges); docs/api.md#signed-requests.

Signed bytes: `<X-Timestamp> + "." + <raw body>`, HMAC-SHA256 keyed with the
secret's UTF-8 bytes, sent as `X-Signature: sha256=<lowercase hex>`. The
clock window is ±SIGNATURE_TOLERANCE_SECONDS. Each kind of client names its
key id header and its realm; every refusal goes to its denial hooks (a
counter by reason, an audit entry), up to the per-address budget of refusals
(rate `signature_failure`, shared by every kind); past it, 429.
"""

import hashlib
import hmac
import io
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from core import request_context
from core.client_ip import budget_address, client_ip
from core.problems import Conflict, PayloadTooLarge
from core.throttling import ScopedThrottle
from machines import selectors
from machines.models import MachineClient

TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
SIGNATURE_PREFIX = "sha256="
# Verified when the key id matches nothing, so an unknown client costs the
# same HMAC work as a known one with a wrong signature.
_DECOY_SECRETS = ("decoy-secret-for-unknown-clients",)


class RefusalsThrottled(Throttled):
    """The address spent its budget of refused signatures (already counted
    by the authentication as `rate_limited`)."""


class SignatureRejected(AuthenticationFailed):
    """A 401 with its own problem type. The unknown-client, disabled-client
    and bad-signature cases raise the very same one, so the answer tells an
    attacker nothing about which key ids exist."""

    def __init__(self, detail, *, slug):
        super().__init__(detail)
        self.slug = slug


class SignatureFailureThrottle(ScopedThrottle):
    """Refused signed requests (and other refused machine credentials, such
    as unknown alert hook tokens) per client address. DRF's throttles only run
    once authentication has succeeded, so without this budget every forged
    request would cost a verification and an audit entry (written under the
    chain's single lock), and one address could stall every real write."""

    scope = "signature_failure"

    def get_cache_key(self, request, view):
        # Not principal_ident(): request.user would re-enter authentication.
        return self.cache_format % {"scope": self.scope, "ident": budget_address(client_ip(request))}


# Refusals of a signed request after its authentication, by the reason they
# are counted under (the authentication counts its own refusals).
_REFUSALS = [
    (RefusalsThrottled, None),  # counted by the authentication, which raised it
    (exceptions.ValidationError, "invalid"),
    (PayloadTooLarge, "payload_too_large"),
    (Conflict, "conflict"),
    (exceptions.NotFound, "not_found"),
    (exceptions.Throttled, "throttled"),
    (exceptions.ParseError, "malformed"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
]


def refusal_reason(exc: Exception) -> str | None:
    """The reason a signed endpoint counts `exc` under, or None when it is
    not counted there."""
    return next((reason for cls, reason in _REFUSALS if isinstance(exc, cls)), None)


@dataclass(frozen=True)
class SignedRequest:
    """`request.auth` of a signed request: who signed which bytes, and until
    when the signature is accepted."""

    client: MachineClient
    digest: str  # SHA-256 hex of the signed bytes, `<X-Timestamp>.<raw body>`
    signed_at: datetime  # X-Timestamp
    valid_until: datetime


def signed_bytes(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def signature_hex(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), signed_bytes(timestamp, body), hashlib.sha256).hexdigest()


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


class SignatureAuthentication(BaseAuthentication):
    """Authenticates a machine client of `client_model`: `request.user` is the
    client, `request.auth` a SignedRequest. A subclass sets the key id header,
    the realm and the client model, and implements the two denial hooks."""

    client_model: type[MachineClient]
    key_header = ""  # "X-Producer-Id"
    realm = ""  # "producers"
    kind = ""  # "producer": the actor type, and the refusal reasons `unknown_<kind>`, `<kind>_disabled`

    def count_denial(self, reason: str) -> None:
        """Counts a refusal (every one, `rate_limited` included)."""
        raise NotImplementedError

    def audit_denial(self, reason: str, key_id: str) -> None:
        """Audits a refusal: the claimed key id, never the signature or body.
        Past the address's budget only the first refusal of each window."""
        raise NotImplementedError

    def authenticate_header(self, request):
        return f'Signature realm="{self.realm}", headers="{self.key_header} X-Timestamp X-Signature"'

    def authenticate(self, request):
        key_id = request.META.get("HTTP_" + self.key_header.upper().replace("-", "_"), "")
        timestamp = request.META.get("HTTP_X_TIMESTAMP", "")
        signature = request.META.get("HTTP_X_SIGNATURE", "")
        if not (key_id and timestamp and signature):
            self.deny(request, "missing_header", key_id, SignatureRejected(
                f"Signed requests need the {self.key_header}, X-Timestamp and X-Signature headers.",
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
        client, matched = self.verify(key_id, timestamp, body, provided)
        if not matched:
            # The credentials this worker keeps may predate a rotation made by
            # another process: a new secret must verify at once everywhere.
            client, matched = self.verify(key_id, timestamp, body, provided, fresh=True)

        if client is None or not client.enabled or not matched:
            reason = (f"unknown_{self.kind}" if client is None
                      else f"{self.kind}_disabled" if not client.enabled else "bad_signature")
            self.deny(request, reason, key_id, SignatureRejected("The request signature could not be verified.",
                                                                 slug="signature-invalid"))
        request_context.set_actor(self.kind, client.name)
        signed_at = datetime.fromtimestamp(int(timestamp), dt_timezone.utc)
        signed = SignedRequest(client=client, digest=hashlib.sha256(signed_bytes(timestamp, body)).hexdigest(),
                               signed_at=signed_at, valid_until=signed_at + timedelta(seconds=tolerance))
        return client, signed

    @property
    def key_id_max_length(self) -> int:
        return self.client_model._meta.get_field("key_id").max_length

    def verify(self, key_id: str, timestamp: str, body: bytes, provided: bytes, *, fresh=False):
        """(client or None, whether `provided` is the signature under one of its live secrets)."""
        client, secrets = (selectors.live_credentials(self.client_model, key_id, fresh=fresh)
                           if len(key_id) <= self.key_id_max_length else (None, []))
        matched = False
        # No early exit: every live secret is tried, each in constant time.
        for secret in secrets or _DECOY_SECRETS:
            matched |= hmac.compare_digest(signature_hex(secret, timestamp, body).encode("ascii"), provided)
        return client, matched

    def deny(self, request, reason: str, key_id: str, exc: SignatureRejected):
        """Refuses the request (`refuse`), with the claimed key id cut to size."""
        key_id = key_id[:self.key_id_max_length]
        refuse(request, reason=reason, exc=exc, count=self.count_denial,
               audit=lambda reason: self.audit_denial(reason, key_id))


def refuse(request, *, reason: str, exc: Exception, count, audit):
    """Refuses a request whose credential failed: raises `exc`, or a 429 once
    the client address has spent its budget of refusals. `count(reason)` and
    `audit(reason)` record the refusal. The budget is consulted only here,
    after verification, never before it: the credential is the one thing
    that tells a client from a forger behind the same address (a NAT, a
    shared egress proxy, a charting tool's senders), so a valid request
    always passes, and the success path costs no cache round trip. What a
    flood can no longer multiply is the audit write: past the budget only the
    first refusal of each window is audited."""
    throttle = SignatureFailureThrottle()
    if not throttle.allow_request(request, None):
        count("rate_limited")
        wait = max(1.0, throttle.wait() or throttle.duration)
        if cache.add(f"{throttle.key}:audited", True, timeout=int(wait) + 1):
            audit("rate_limited")
        raise RefusalsThrottled(wait=wait, detail="Too many refused requests from this address; try again later.")
    count(reason)
    audit(reason)
    raise exc
