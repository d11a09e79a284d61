"""Bridges' signed requests: the machine clients' signature check
(machines/authentication.py) with `X-Bridge-Id`, realm "bridges". Every
refusal is counted in `bridge_requests_rejected_total{reason}` and audited as
`bridge.auth_denied`."""

from prometheus_client import Counter
from rest_framework.permissions import BasePermission

from core.throttling import ScopedThrottle
from execution import events
from execution.models import Bridge
from machines.authentication import SignatureAuthentication

bridge_requests_rejected_total = Counter("bridge_requests_rejected_total", "Bridge requests refused, by reason.",
                                         ["reason"])


class BridgeSignatureAuthentication(SignatureAuthentication):
    """Authenticates a bridge: `request.user` is the Bridge, `request.auth`
    a SignedRequest."""

    client_model = Bridge
    key_header = "X-Bridge-Id"
    realm = "bridges"
    kind = "bridge"

    def count_denial(self, reason: str) -> None:
        bridge_requests_rejected_total.labels(reason=reason).inc()

    def audit_denial(self, reason: str, key_id: str) -> None:
        # The claimed key id says which bridge knocked; never the signature or body.
        events.bridge_auth_denied.send(sender=Bridge, target=None, status="failure", actor_type="bridge",
                                       actor=None, meta={"reason": reason, "key_id": key_id})


class IsBridge(BasePermission):
    """Only a bridge authenticated by its signature."""

    def has_permission(self, request, view):
        return isinstance(request.user, Bridge)


class BridgeThrottle(ScopedThrottle):
    """Signed requests per bridge (rate `bridge`)."""

    scope = "bridge"
