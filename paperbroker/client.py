"""The bridge's signed calls to the platform: one POST per call with a JSON
body, signed as producers sign theirs (tradeplatform_client) but with the
X-Bridge-Id header. The answers are sorted out here:

- 2xx: the parsed JSON answer;
- 401: `Unauthorized`: the key id or the secret is wrong, or the bridge is
  disabled; retrying cannot help, so the bridge stops;
- 429, 500, 502-504, a timeout, a refused or dropped connection: retried
  with exponential backoff for as long as it takes (the server may be
  restarting), signed afresh each time, until `stop` is set (`Stopped`):
  `tradeplatform_client.retrying` does the retrying;
- any other 4xx: `Refused`, with the problem details the platform sent.
"""

import json
import threading

from paperbroker.logs import log
from tradeplatform_client.retrying import GaveUp, SignedClient
from tradeplatform_client.signing import BRIDGE_KEY_HEADER


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


def _log_retry(call: str, reason: str, seconds: float) -> None:
    log("call.retry", call=call, reason=reason, wait_seconds=round(seconds, 2))


class BridgeClient:
    def __init__(self, *, base_url: str, key_id: str, secret: str, stop: threading.Event, timeout: float = 10.0,
                 first_backoff: float = 0.5, max_backoff: float = 30.0):
        self.key_id = key_id
        self.stop = stop
        # No bound on the attempts: the platform may be restarting, and the
        # bridge has nothing better to do than to wait for it (until stopped).
        self._signed = SignedClient(base_url=base_url.rstrip("/") + "/api/v1/bridge/", key_id=key_id, secret=secret,
                                    key_header=BRIDGE_KEY_HEADER, timeout=timeout, attempts=None,
                                    first_backoff=first_backoff, max_backoff=max_backoff, wait=stop.wait,
                                    on_retry=_log_retry)

    def __repr__(self) -> str:  # no secret in a traceback or a debugger
        return f"BridgeClient({self._signed.base_url!r}, key_id={self.key_id!r})"

    def post(self, call: str, payload: dict) -> dict:
        """POSTs `payload` to the bridge API's `call` (symbols, poll, ack,
        fills, account) and returns the answer; see the module docstring."""
        try:
            status, _, content = self._signed.post(call, payload)
        except GaveUp:
            raise Stopped(call) from None
        if 200 <= status < 300:
            return _json(content)
        if status == 401:
            raise Unauthorized(f"{call}: HTTP 401: the platform refused the bridge's key {self.key_id} "
                               f"(wrong key id or secret, or the bridge is disabled)")
        raise Refused(call, status, _json(content))
