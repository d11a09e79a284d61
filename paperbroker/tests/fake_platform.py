"""A stand-in for the platform's bridge API, for the paper bridge's own
tests: a small HTTP server in a thread that checks every request's
signature with its own HMAC code, records the requests and answers as the
bridge API does (commands polled until acknowledged, acks idempotent, fills
stored once by fill_id). Faults can be queued per call, and `on_request`
runs as each signed request arrives."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/api/v1/bridge/"
LOSE_ANSWER = "lose-answer"  # the call is carried out, then the connection drops without an answer


class FakePlatform:
    def __init__(self, *, key_id: str, secret: str):
        self.key_id, self.secret = key_id, secret
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict, dict]] = []  # (call, headers, body), including refused ones
        self.commands: list[dict] = []
        self.acks: dict[str, list[tuple[str, str | None]]] = {}  # command id -> its acks in order
        self.fills: dict[str, dict] = {}
        self.duplicates = 0
        self.snapshots: list[dict] = []
        self.symbols: list[dict] = []
        self.faults: dict[str, list] = {}  # call -> [HTTP status or LOSE_ANSWER, ...], used in order
        self.on_request = None  # called with (call, body) under the lock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def calls(self, call: str) -> list[dict]:
        return [body for name, _, body in self.requests if name == call]

    def fault(self, call: str, *outcomes) -> None:
        self.faults.setdefault(call, []).extend(outcomes)

    def signature_ok(self, headers, body: bytes) -> bool:
        timestamp = headers.get("X-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        return (headers.get("X-Bridge-Id") == self.key_id and timestamp.isdigit()
                and abs(int(timestamp) - time.time()) <= 300
                and hmac.compare_digest(headers.get("X-Signature", ""), expected))

    def answer(self, call: str, body: dict) -> tuple[int, dict]:
        if call == "symbols":
            self.symbols = body["symbols"]
            return 200, {"updated": len(body["symbols"])}
        if call == "poll":
            return 200, {"commands": [c for c in self.commands if c["id"] not in self.acks]}
        if call == "ack":
            given, earlier = (body["status"], body["broker_ticket"]), self.acks.setdefault(body["command"], [])
            if given not in earlier:
                # After `accepted` comes one final ack, with the same ticket.
                if any(status != "accepted" or ticket != given[1] for status, ticket in earlier):
                    return 409, {"title": "Conflict", "detail": "the ack contradicts an earlier one"}
                earlier.append(given)
            return 200, {"command": body["command"], "status": body["status"]}
        if call == "fills":
            inserted = 0
            for fill in body["fills"]:
                if fill["fill_id"] in self.fills:
                    self.duplicates += 1
                else:
                    self.fills[fill["fill_id"]] = fill
                    inserted += 1
            return 200, {"inserted": inserted, "duplicates": len(body["fills"]) - inserted}
        if call == "account":
            self.snapshots.append(body)
            return 200, {"snapshot": len(self.snapshots), "positions": len(body["positions"]), "status": "ok"}
        return 404, {"title": "Not Found"}

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                call = self.path.removeprefix(PREFIX)
                with platform.lock:
                    platform.requests.append((call, dict(self.headers), json.loads(raw)))
                    if not platform.signature_ok(self.headers, raw):
                        return self.reply(401, {"title": "Unauthorized", "detail": "Bad signature."})
                    if platform.on_request is not None:
                        platform.on_request(call, json.loads(raw))
                    queued = platform.faults.get(call)
                    outcome = queued.pop(0) if queued else None
                    if isinstance(outcome, int):
                        return self.reply(outcome, {"title": "Fault", "detail": f"injected {outcome}"})
                    status, answer = platform.answer(call, json.loads(raw))
                if outcome == LOSE_ANSWER:
                    self.close_connection = True
                    return None
                return self.reply(status, answer)

            def reply(self, status: int, answer: dict):
                content = json.dumps(answer).encode()
                self.send_response(status)
                kind = "application/json" if status < 400 else "application/problem+json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        return Handler
