"""The bridge's signed calls: the signature the fake platform checks with
its own HMAC code, and what the client does with each kind of answer."""

import logging
import socket
import threading

import pytest

from paperbroker.client import BridgeClient, Refused, Stopped, Unauthorized
from paperbroker.tests.conftest import KEY_ID, SECRET
from paperbroker.tests.fake_platform import LOSE_ANSWER
from tradeplatform_client import BRIDGE_KEY_HEADER, sign


def client_for(url, *, secret=SECRET, stop=None):
    return BridgeClient(base_url=url, key_id=KEY_ID, secret=secret, stop=stop or threading.Event(),
                        first_backoff=0.01, max_backoff=0.05, timeout=2)


def test_calls_are_signed_with_the_bridge_key_header(platform):
    answer = client_for(platform.url).post("poll", {})

    assert answer == {"commands": []}
    [(call, headers, body)] = platform.requests
    assert (call, body) == ("poll", {})
    assert headers["X-Bridge-Id"] == KEY_ID and "X-Producer-Id" not in headers
    assert headers["X-Signature"].startswith("sha256=")  # verified by the fake, else it would be a 401


def test_sign_names_the_bridge_key_header():
    # The same digest as a producer's (the README's openssl recipe), under X-Bridge-Id.
    assert sign("s3cret", 1764140400, b'{"a":1}', key_id="brg_x", key_header=BRIDGE_KEY_HEADER) == {
        "X-Timestamp": "1764140400", "X-Bridge-Id": "brg_x",
        "X-Signature": "sha256=f6f0318c617f7af0d833fcd537f0869b2dc12f405d07afc3537f8e6b5bfe3c42"}


def test_wrong_secret_is_unauthorized_at_once_and_never_logged(platform, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unauthorized, match=f"refused the bridge's key {KEY_ID}"):
        client_for(platform.url, secret="not-the-secret").post("poll", {})
    assert len(platform.requests) == 1
    assert "not-the-secret" not in caplog.text and "not-the-secret" not in repr(client_for(platform.url))


def test_server_errors_and_throttling_are_retried(platform, caplog):
    platform.fault("poll", 503, 500, 429)
    assert client_for(platform.url).post("poll", {}) == {"commands": []}
    assert len(platform.requests) == 4
    assert caplog.text.count("call.retry") == 3
    assert SECRET not in caplog.text


def test_a_refused_connection_is_retried_until_stopped(caplog):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once closed
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Stopped):
        client_for(f"http://127.0.0.1:{port}", stop=stop).post("poll", {})
    assert caplog.text.count("call.retry") >= 3
    assert "ConnectionRefusedError" in caplog.text or "Connection refused" in caplog.text


def test_a_lost_answer_is_retried(platform):
    platform.fault("account", LOSE_ANSWER)
    answer = client_for(platform.url).post("account", {"time": "2026-11-26T07:00:00Z", "positions": []})
    assert answer["snapshot"] == 2 and len(platform.snapshots) == 2


def test_other_client_errors_are_refused_with_the_problem(platform):
    platform.fault("fills", 422)
    with pytest.raises(Refused) as refused:
        client_for(platform.url).post("fills", {"fills": []})
    assert (refused.value.status, refused.value.problem["detail"]) == (422, "injected 422")
    assert len(platform.requests) == 1
