"""The strategy authors' client (tradeplatform_client): its signature is the
server's, and a request it signs is accepted by a running server."""

import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from execution.models import Bridge
from machines import services as machine_services
from signals.authentication import signature_hex
from signals.models import Signal
from signals.tests.conftest import signal_body
from tradeplatform_client import GaveUp, SignedClient, post_signed, sign
from tradeplatform_client.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_sign_matches_the_contract():
    headers = sign("s3cret", 1764140400, b'{"a":1}', key_id="prd_x")
    assert headers == {"X-Timestamp": "1764140400", "X-Producer-Id": "prd_x",
                       "X-Signature": "sha256=" + signature_hex("s3cret", "1764140400", b'{"a":1}')}
    # Independent of our code: the value openssl prints for the README recipe.
    assert sign("s3cret", "1764140400", b'{"a":1}')["X-Signature"] == \
        "sha256=f6f0318c617f7af0d833fcd537f0869b2dc12f405d07afc3537f8e6b5bfe3c42"


def test_module_imports_no_django():
    code = "import sys, tradeplatform_client.__main__; print(any(m.startswith('django') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": os.environ.get("PATH", "")}, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.django_db(transaction=True)
def test_signed_by_the_client_accepted_by_a_live_server(live_server, producer, secret):
    body = json.dumps(signal_body()).encode()
    status, headers, content = post_signed(f"{live_server.url}/api/v1/signals/", body,
                                           key_id=producer.key_id, secret=secret)
    assert status == 201, content
    assert json.loads(content)["id"] == str(Signal.objects.get().pk)
    status, headers, _ = post_signed(f"{live_server.url}/api/v1/signals/", body, key_id=producer.key_id,
                                     secret="wrong")
    assert status == 401


@pytest.mark.django_db(transaction=True)
def test_command_line_posts_a_file(live_server, producer, secret, tmp_path, monkeypatch, capsys):
    path = tmp_path / "signal.json"
    path.write_bytes(json.dumps(signal_body()).encode())
    monkeypatch.setenv("STRATEGY_SECRET", secret)
    argv = ["post", f"{live_server.url}/api/v1/signals/", "--key-id", producer.key_id,
            "--secret-env", "STRATEGY_SECRET", str(path)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("HTTP 201")
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("HTTP 200 (idempotent replay)")
    monkeypatch.setenv("STRATEGY_SECRET", "wrong")
    assert main(argv) == 1
    assert "HTTP 401" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_named_calls_reach_their_endpoints(live_server, producer, secret, tmp_path, monkeypatch, capsys):
    path = tmp_path / "signal.json"
    path.write_bytes(json.dumps(signal_body()).encode())
    monkeypatch.setenv("STRATEGY_SECRET", secret)
    assert main(["signal", "--base-url", live_server.url + "/", "--key-id", producer.key_id,
                 "--secret-env", "STRATEGY_SECRET", str(path)]) == 0
    assert capsys.readouterr().out.startswith("HTTP 201")
    assert Signal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_bridge_poll_needs_no_file(live_server, alice, monkeypatch, capsys):
    bridge, bridge_secret = machine_services.create_client(model=Bridge, name="alice-mt5", owner=alice,
                                                           account_ref="50123")
    monkeypatch.setenv("BRIDGE_SECRET", bridge_secret)
    assert main(["bridge-poll", "--base-url", live_server.url, "--key-id", bridge.key_id,
                 "--secret-env", "BRIDGE_SECRET"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HTTP 200") and json.loads(out.split("\n", 1)[1]) == {"commands": []}


class ScriptedServer(ThreadingHTTPServer):
    """Answers POSTs with the scripted (status, headers) in turn, then 201."""

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.answers, self.requests = list(answers), []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1/signals/"


class ScriptedHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.requests.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
        status, headers = self.server.answers.pop(0) if self.server.answers else (201, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    servers = []

    def serve(*answers):
        server = ScriptedServer(answers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_throttled_and_unavailable_calls_are_retried_no_sooner_than_retry_after(scripted):
    server = scripted((429, {"Retry-After": "7"}), (503, {}), (502, {}))
    waits = []
    client = SignedClient(base_url=server.url, key_id="prd_x", secret="s3cret", first_backoff=0.5,
                          wait=waits.append)

    status, _, _ = client.post(server.url, {"a": 1})

    assert status == 201 and len(server.requests) == 4
    assert waits[0] == 7  # what Retry-After asked for, not the shorter backoff
    assert 0.25 <= waits[1] <= 0.5 * 2 and 0.5 <= waits[2] <= 2  # doubling, with jitter
    # Every attempt sends the same bytes, each signed afresh.
    assert {body for _, body in server.requests} == {b'{"a":1}'}
    for headers, body in server.requests:
        assert headers["X-Signature"] == sign("s3cret", headers["X-Timestamp"], body)["X-Signature"]


def test_a_refusal_is_not_retried_and_attempts_are_bounded(scripted):
    refused = scripted((422, {}))
    client = SignedClient(base_url=refused.url, key_id="prd_x", secret="s3cret", wait=lambda seconds: None)
    assert client.post(refused.url, b"{}")[0] == 422 and len(refused.requests) == 1

    down = scripted(*[(503, {})] * 10)
    client = SignedClient(base_url=down.url, key_id="prd_x", secret="s3cret", attempts=3, wait=lambda s: None)
    with pytest.raises(GaveUp, match="gave up after 3 attempts"):
        client.post(down.url, b"{}")
    assert len(down.requests) == 3


def test_installable_with_pip_without_the_platform(tmp_path):
    """The client's own pyproject builds a wheel (no Django, no platform code)
    whose command runs from anywhere."""
    # Built from a copy: setuptools writes its build files next to the sources.
    source = shutil.copytree(ROOT / "tradeplatform_client", tmp_path / "source",
                             ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("tradeplatform_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert sorted(n for n in names if n.endswith(".py")) == [
        "tradeplatform_client/__init__.py", "tradeplatform_client/__main__.py",
        "tradeplatform_client/retrying.py", "tradeplatform_client/signing.py"]
    assert "tradeplatform-client = tradeplatform_client.__main__:main" in entry_points
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-c", "import sys, tradeplatform_client.__main__ as m; "
                             "sys.argv = ['tradeplatform-client', '--help']; m.main()"],
                            cwd=tmp_path, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path / "site")},
                            capture_output=True, text=True)
    assert result.returncode == 0 and "bridge-fills" in result.stdout
