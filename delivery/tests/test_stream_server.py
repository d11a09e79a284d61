"""The event stream as deployed: config/asgi.py under a real uvicorn
process, read by a plain HTTP client that hangs up and comes back with
Last-Event-ID (PostgreSQL: the server process reads the test database)."""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from delivery.tests.conftest import free_port, make_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    database = connection.settings_dict
    env = {**os.environ, "ENV_FILE": "/dev/null", "EVENT_STREAM_POLL_SECONDS": "0.05",
           "EVENT_STREAM_HEARTBEAT_SECONDS": "0.5",
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "uvicorn.log"
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                                "--port", str(port), "--no-access-log"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 60
    while True:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                break
        except OSError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(20)


class SSE:
    def __init__(self, port, token, last_event_id=None):
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.http.request("GET", "/api/v1/events/stream/", headers=headers)
        self.response = self.http.getresponse()
        assert self.response.status == 200, self.response.read()
        self.lines: list[str] = []

    def next_message(self) -> dict:
        """The next message with an id (heartbeats and the retry line are read past)."""
        fields = {}
        while True:
            line = self.response.readline().decode().rstrip("\n")
            self.lines.append(line)
            if line == "":
                if "id" in fields:
                    return {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
                fields = {}
            elif not line.startswith(":") and ": " in line:
                name, value = line.split(": ", 1)
                fields[name] = value

    def close(self):
        self.http.close()


def test_resume_with_last_event_id_against_uvicorn(server, alice):
    token = str(AccessToken.for_user(alice))
    first, second = make_event(alice, payload={"n": 1}), make_event(alice, payload={"n": 2})
    stream = SSE(server, token, last_event_id=first.pk)
    assert stream.next_message()["id"] == second.pk
    third = make_event(alice, payload={"n": 3})
    message = stream.next_message()
    assert (message["id"], message["event"], message["data"]["data"]) == (third.pk, "signal.created", {"n": 3})
    stream.close()  # the connection drops...
    fourth = make_event(alice, payload={"n": 4})
    again = SSE(server, token, last_event_id=third.pk)  # ...and the client comes back where it was
    assert again.next_message()["id"] == fourth.pk
    time.sleep(1.2)
    fifth = make_event(alice, payload={"n": 5})
    assert again.next_message()["id"] == fifth.pk
    assert ": heartbeat" in again.lines  # the idle second in between
    again.close()
