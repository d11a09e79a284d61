"""The strategy authors' client (tradeplatform_client): its signature is the
server's, and a request it signs is accepted by a running server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signals.authentication import signature_hex
from signals.models import Signal
from signals.tests.conftest import signal_body
from tradeplatform_client import post_signed, sign
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
