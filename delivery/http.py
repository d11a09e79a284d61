"""One webhook attempt over HTTP: signed per the Standard Webhooks
specification, sent to an address that passed delivery/addresses.py at this
moment, with a total time limit, no redirects followed (a redirect is a
failed attempt: the receiver must answer at the URL it registered), and
never more of the answer read than needed to reuse the connection."""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import urllib3
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, SSLError, TimeoutError

from delivery.addresses import RefusedTarget, resolve, target_of

USER_AGENT = "tradeplatform-webhooks/1"
ANSWER_READ_BYTES = 64 * 1024  # read and dropped so the connection can serve the next attempt
POOLS_KEPT = 64
CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str  # what went wrong, never the answer's body
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def receiver_unwell(self) -> bool:
        """A failure of the receiver as a whole (unreachable, timing out, 5xx,
        429, a redirect), not of this one message (another 4xx): the sender
        waits before trying that endpoint again."""
        code = self.status_code
        return not self.succeeded and (code is None or code >= 500 or code in (408, 429) or 300 <= code < 400)


def signature(secrets: list[str], *, msg_id: str, timestamp: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,<base64>` per live secret, space-separated
    (both while a rotated secret's grace lasts, so a receiver may switch at
    its own pace)."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


class _Pools:
    """Connection pools by (scheme, address, port, host name), kept across
    attempts so that a busy endpoint's connection is reused; the least
    recently used are closed beyond POOLS_KEPT."""

    def __init__(self):
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            if scheme == "https":
                # Connect to the checked address, but verify the certificate
                # of (and send SNI for) the host name the URL gives.
                pool = urllib3.HTTPSConnectionPool(address, port, maxsize=4, server_hostname=host,
                                                   assert_hostname=host, cert_reqs="CERT_REQUIRED")
            else:
                pool = urllib3.HTTPConnectionPool(address, port, maxsize=4)
            self._pools[key] = pool
            while len(self._pools) > POOLS_KEPT:
                self._pools.popitem(last=False)[1].close()
            return pool


_pools = _Pools()


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    started = time.monotonic()

    def outcome(status_code=None, error=""):
        return Outcome(status_code=status_code, error=error, duration_ms=round((time.monotonic() - started) * 1000))

    try:
        scheme, host, port = target_of(url)
        address = resolve(host, port)[0]
    except RefusedTarget as refused:
        return outcome(error=str(refused))
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = port == (443 if scheme == "https" else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
    pool = _pools.get(scheme, address, port, host)
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers={**headers, "Host": host_header, "User-Agent": USER_AGENT},
            redirect=False, retries=False, assert_same_host=False, preload_content=False,
            timeout=urllib3.Timeout(total=timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)))
    except NewConnectionError:  # urllib3 makes it a kind of connect timeout: it is not one
        return outcome(error="Could not connect (refused or unreachable).")
    except TimeoutError:
        return outcome(error=f"No answer within {timeout:g} s.")
    except HTTPError as failure:
        return outcome(error=_connection_error(failure))
    try:
        response.read(ANSWER_READ_BYTES, decode_content=False)
        if response.read(1, decode_content=False):  # longer than that: this connection is not reused
            response.close()
        else:
            response.release_conn()
    except (TimeoutError, HTTPError):
        response.close()  # the status line came: the answer stands
    error = "" if 200 <= response.status < 300 else (
        f"Redirected ({response.status}); redirects are not followed." if 300 <= response.status < 400
        else f"Answered {response.status}.")
    return outcome(status_code=response.status, error=error)


def _connection_error(failure: HTTPError) -> str:
    if isinstance(failure, SSLError):
        return "TLS handshake failed (certificate or protocol)."
    if isinstance(failure, ProtocolError):
        return "The connection closed before an answer."
    return f"Connection failed ({type(failure).__name__})."
