"""The bridge's signed calls to the platform: one POST per call with a JSON
body, signed as producers sign theirs (tradeplatform_client) but with the
X-Bridge-Id header. The answers are sorted out here:

- 2xx: the parsed JSON answer;
- 401: `Unauthorized`: the key id or the secret is wrong, or the bridge is
  disabled; retrying cannot help, so the bridge stops;
- 429, 5xx, a timeout, a refused or dropped connection: retried with
  exponential backoff for as long as it takes (the server may be restarting),
  signed afresh each time, until `stop` is set (`Stopped`);
- any other 4xx: `Refused`, with the problem details the platform sent.
"""

import http.client
import json
import threading
from urllib.parse import urljoin

from paperbroker.logs import log
from tradeplatform_client.signing import BRIDGE_KEY_HEADER, post_signed


class Unauthorized(Exception):
    pass


class Stopped(Exception):
    """Told to stop while waiting to try a call again."""


class Refused(Exception):
    def __init__(self, call: str, status: int, problem: dict):
        self.call, self.status, self.problem = call, status, problem
        detail = problem.get("detail") or problem.get("title") or "no detail"
        errors = problem.get("errors")
        super().__init__(f"{call}: HTTP {status}: {detail}" + (f" {json.dumps(errors)}" if errors else ""))


def _json(content: bytes) -> dict:
    try:
        answer = json.loads(content or b"{}")
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


class BridgeClient:
    def __init__(self, *, base_url: str, key_id: str, secret: str, stop: threading.Event, timeout: float = 10.0,
                 first_backoff: float = 0.5, max_backoff: float = 30.0):
        self.api = urljoin(base_url.rstrip("/") + "/", "api/v1/bridge/")
        self.key_id = key_id
        self._secret = secret
        self.stop = stop
        self.timeout = timeout
        self.first_backoff, self.max_backoff = first_backoff, max_backoff

    def __repr__(self) -> str:  # no secret in a traceback or a debugger
        return f"BridgeClient({self.api!r}, key_id={self.key_id!r})"

    def post(self, call: str, payload: dict) -> dict:
        """POSTs `payload` to the bridge API's `call` (symbols, poll, ack,
        fills, account) and returns the answer; see the module docstring."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        backoff = self.first_backoff
        while True:
            try:
                status, headers, content = post_signed(self.api + call, body, key_id=self.key_id,
                                                       secret=self._secret, timeout=self.timeout,
                                                       key_header=BRIDGE_KEY_HEADER)
            except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out
                wait, reason = backoff, f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            else:
                if 200 <= status < 300:
                    return _json(content)
                if status == 401:
                    raise Unauthorized(f"{call}: HTTP 401: the platform refused the bridge's key {self.key_id} "
                                       f"(wrong key id or secret, or the bridge is disabled)")
                if status != 429 and status < 500:
                    raise Refused(call, status, _json(content))
                wait, reason = max(backoff, _retry_after(headers)), f"HTTP {status}"
            log("call.retry", call=call, reason=reason, wait_seconds=round(wait, 2))
            if self.stop.wait(wait):
                raise Stopped(call)
            backoff = min(backoff * 2, self.max_backoff)


def _retry_after(headers) -> float:
    try:
        return float(headers.get("Retry-After", 0))
    except ValueError:
        return 0.0
