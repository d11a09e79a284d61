"""The producers' request signature, and one signed POST.

    X-Timestamp: <unix seconds>
    X-Signature: sha256=<lowercase hex HMAC-SHA256(secret UTF-8, timestamp + "." + raw body)>

Sign the exact bytes you send: serialize the JSON once and send those bytes.
"""

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from collections.abc import Mapping


PRODUCER_KEY_HEADER = "X-Producer-Id"
BRIDGE_KEY_HEADER = "X-Bridge-Id"


def sign(secret: str, timestamp: int | str, body: bytes, *, key_id: str | None = None,
         key_header: str = PRODUCER_KEY_HEADER) -> dict[str, str]:
    """The signature headers for `body` sent at `timestamp` (unix seconds);
    with `key_id`, the key id header too: X-Producer-Id for a strategy
    engine, X-Bridge-Id (`key_header=BRIDGE_KEY_HEADER`) for a broker bridge."""
    timestamp = str(int(timestamp))
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Timestamp": timestamp, "X-Signature": f"sha256={digest}"}
    if key_id is not None:
        headers[key_header] = key_id
    return headers


def post_signed(url: str, body: bytes, *, key_id: str, secret: str, timeout: float = 10.0,
                now: float | None = None, key_header: str = PRODUCER_KEY_HEADER,
                ) -> tuple[int, Mapping[str, str], bytes]:
    """POSTs `body` (JSON bytes) signed; returns (status, headers, response body);
    the headers look up case-insensitively, as HTTP header names are.
    Error answers (4xx/5xx) are returned too, not raised: their problem+json
    body says what was wrong."""
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               **sign(secret, int(time.time() if now is None else now), body, key_id=key_id, key_header=key_header)}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()

