import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import OperationalError, transaction
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from delivery import outbox, services
from delivery.models import EventType


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    """Webhooks may not reach loopback by default; these tests' receivers live there."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request (headers with
    lower-case names, body) and answers what `answer` says: a status code,
    ("sleep", seconds), ("redirect", url) or ("hold", threading.Event)."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.answer = 200
        self.secret = None  # set: verify each delivery with the standardwebhooks package, 400 if it fails
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                              "body": body, "path": self.path})
                    receiver.arrived.notify_all()
                answer = receiver.answer
                if receiver.secret is not None:
                    try:
                        Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    except WebhookVerificationError:
                        answer = 400
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = 200
                if isinstance(answer, tuple) and answer[0] == "hold":
                    answer[1].wait(30)
                    answer = 200
                if isinstance(answer, tuple) and answer[0] == "redirect":
                    self.send_response(307)
                    self.send_header("Location", answer[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = b'{"ok": true}'
                try:
                    self.send_response(answer)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/in?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        return self.requests

    def bodies(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_receiver():
    servers = []

    def make(port: int = 0):
        servers.append(Receiver(port))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def endpoint_for(db):
    def make(user, url, event_types=(EventType.SIGNAL_CREATED,)):
        return services.create_endpoint(owner=user, url=url, event_types=list(event_types))

    return make


def make_event(user, kind=EventType.SIGNAL_CREATED, payload=None):
    """One event for `user`, written as a domain receiver writes it."""
    return record_events([(user.pk, kind, payload or {"n": 1})])[0]


def record_events(rows):
    """outbox.record in a transaction of its own. The tests' SQLite database
    is in memory with a shared cache, where a write meeting a read of the
    same table on another connection (an open stream's poller) fails at once
    with "table is locked" instead of waiting as a file database's busy
    timeout makes it: that write is tried again."""
    for attempt in range(50):
        try:
            with transaction.atomic():
                return outbox.record(rows)
        except OperationalError as error:
            if "locked" not in str(error) or attempt == 49:
                raise
            time.sleep(0.02)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The trading loop's own fixtures: signals, approvals, orders and fills made as the platform makes them.
from execution.tests.conftest import (  # noqa: E402,F401
    approve,
    bridge,
    consent_v1,
    fill,
    make_bridge,
    make_signal,
    place,
    snapshot,
    specs,
)
