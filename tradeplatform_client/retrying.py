"""Signed calls that survive a busy or restarting platform.

Every signed call of the platform is safe to repeat: a signal, a candle or
an equity upload sent twice is stored once (the second answer says
`Idempotent-Replayed`), fills are stored once by their `fill_id`, and a
repeated ack or poll changes nothing. So a call that met a throttle (429), a
server error (5xx: the platform restarting, or its database failing over) or
a dropped connection is sent again, signed afresh (a signature is only good
for a few minutes), after a wait that doubles each time, with jitter so that
many clients do not come back in step, and never shorter than the
`Retry-After` the platform asked for.

Any other answer (2xx, 401, 4xx) is returned at once: retrying a refused
signature or an invalid body cannot help.
"""

import http.client
import json
import random
import time
from collections.abc import Callable, Mapping
from urllib.parse import urljoin

from tradeplatform_client.signing import PRODUCER_KEY_HEADER, post_signed

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

# What each signed call is called on the command line, and its path.
PRODUCER_CALLS = {"signal": "api/v1/signals/", "candles": "api/v1/candles/", "equity": "api/v1/equity/"}
BRIDGE_CALLS = {call: f"api/v1/bridge/{call}" for call in ("symbols", "poll", "ack", "fills", "account")}


class GaveUp(Exception):
    """The call was retried as often as allowed, or told to stop waiting."""


def retry_after(headers: Mapping[str, str]) -> float:
    """The seconds a `Retry-After` header asks for (0 when absent or a date)."""
    try:
        return max(0.0, float(headers.get("Retry-After", 0)))
    except ValueError:
        return 0.0


class SignedClient:
    """Signed POSTs to one platform as one machine client (a strategy engine
    with `key_header=PRODUCER_KEY_HEADER`, a broker bridge with
    `BRIDGE_KEY_HEADER`), retried as the module docstring says.

    `attempts` bounds the tries (None: until `wait` says stop); `wait(seconds)`
    sleeps and returns True to stop waiting (a `threading.Event().wait` does);
    `on_retry(path, reason, seconds)` is told of every retry, e.g. to log it."""

    def __init__(self, *, base_url: str, key_id: str, secret: str, key_header: str = PRODUCER_KEY_HEADER,
                 timeout: float = 10.0, attempts: int | None = 5, first_backoff: float = 0.5,
                 max_backoff: float = 30.0, wait: Callable[[float], bool | None] = time.sleep,
                 on_retry: Callable[[str, str, float], None] | None = None):
        self.base_url = base_url.rstrip("/") + "/"
        self.key_id, self.key_header = key_id, key_header
        self._secret = secret
        self.timeout, self.attempts = timeout, attempts
        self.first_backoff, self.max_backoff = first_backoff, max_backoff
        self._wait, self._on_retry = wait, on_retry

    def __repr__(self) -> str:  # no secret in a traceback or a debugger
        return f"{type(self).__name__}({self.base_url!r}, key_id={self.key_id!r})"

    def post(self, path: str, body: bytes | dict) -> tuple[int, Mapping[str, str], bytes]:
        """POSTs `body` (JSON bytes, or a dict to serialize) to `path` (relative
        to the base URL, or absolute); returns (status, headers, content) of
        the first answer that is not retried. Raises `GaveUp` when out of
        attempts or told to stop, with the last failure as its cause."""
        if isinstance(body, dict):
            body = json.dumps(body, separators=(",", ":")).encode()
        url = urljoin(self.base_url, path)
        backoff, attempt = self.first_backoff, 0
        while True:
            attempt += 1
            try:
                status, headers, content = post_signed(url, body, key_id=self.key_id, secret=self._secret,
                                                       timeout=self.timeout, key_header=self.key_header)
            except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out
                failure, reason, asked = error, f"{type(error).__name__}: {getattr(error, 'reason', error)}", 0.0
            else:
                if status not in RETRIED_STATUSES:
                    return status, headers, content
                failure, reason, asked = None, f"HTTP {status}", retry_after(headers)
            if self.attempts is not None and attempt >= self.attempts:
                raise GaveUp(f"{path}: gave up after {attempt} attempts ({reason})") from failure
            seconds = max(asked, random.uniform(backoff / 2, backoff))
            if self._on_retry:
                self._on_retry(path, reason, seconds)
            if self._wait(seconds):
                raise GaveUp(f"{path}: stopped while waiting to retry ({reason})") from failure
            backoff = min(backoff * 2, self.max_backoff)

