"""`python manage.py paper_bridge` as a process: its options, a loop
against the fake platform, a clean stop on SIGTERM, and a restart after
SIGKILL that sends the unconfirmed fill again with the same id."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from paperbroker.tests.conftest import KEY_ID, SECRET, open_command
from paperbroker.tests.fake_platform import LOSE_ANSWER

ROOT = Path(__file__).resolve().parents[2]


def options(platform, tmp_path, *extra):
    return ["--base-url", platform.url, "--key-id", KEY_ID, "--price-source", "constant",
            "--state-file", str(tmp_path / "state.json"), "--control-file", str(tmp_path / "control.jsonl"),
            *extra]


def test_once_fills_a_command_and_reports_the_account(platform, tmp_path, monkeypatch):
    monkeypatch.setenv("PAPER_BRIDGE_SECRET", SECRET)
    platform.commands.append(open_command(created_at="2020-01-01T00:00:00Z"))
    call_command("paper_bridge", *options(platform, tmp_path, "--once", "--spread", "10", "--balance", "5000",
                                          "--commission-per-lot", "4"))

    [fill] = platform.fills.values()
    assert fill["price"] == "1.08510"  # the constant source's EURUSD 1.08500 + 10 points
    [snapshot] = platform.snapshots
    assert (snapshot["balance"], snapshot["positions"][0]["profit"]) == ("4999.60", "-1.00")


def test_the_secret_comes_from_the_environment_or_the_option(platform, tmp_path, monkeypatch):
    monkeypatch.delenv("PAPER_BRIDGE_SECRET", raising=False)
    with pytest.raises(CommandError, match="Set the environment variable PAPER_BRIDGE_SECRET"):
        call_command("paper_bridge", *options(platform, tmp_path, "--once"))
    monkeypatch.setenv("OTHER_NAME", SECRET)
    call_command("paper_bridge", *options(platform, tmp_path, "--once", "--secret-env", "OTHER_NAME"))
    call_command("paper_bridge", *options(platform, tmp_path, "--once", "--secret", SECRET))
    assert len(platform.snapshots) == 2


def test_a_wrong_key_stops_the_bridge_with_an_error(platform, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PAPER_BRIDGE_SECRET", "wrong-secret")
    with pytest.raises(CommandError, match="401"):
        call_command("paper_bridge", *options(platform, tmp_path))
    assert len(platform.requests) == 1
    assert "wrong-secret" not in caplog.text


def start(platform, tmp_path, *extra):
    return subprocess.Popen([sys.executable, "manage.py", "paper_bridge", *options(platform, tmp_path, *extra)],
                            cwd=ROOT, env={**os.environ, "PAPER_BRIDGE_SECRET": SECRET},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigterm_stops_the_process_cleanly(platform, tmp_path):
    process = start(platform, tmp_path, "--interval", "0.1")
    try:
        wait_for(lambda: len(platform.calls("poll")) >= 2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "bridge.stopped" in stderr and SECRET not in stderr


def test_sigkill_and_restart_sends_the_unconfirmed_fill_again_once(platform, tmp_path):
    platform.commands.append(open_command(created_at="2020-01-01T00:00:00Z"))
    # The fill is stored but its answer is lost, then the platform fails until the bridge is killed.
    platform.fault("fills", LOSE_ANSWER, *[503] * 10_000)
    process = start(platform, tmp_path, "--interval", "0.1")
    try:
        wait_for(lambda: len(platform.calls("fills")) >= 2)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        process.kill()
    [fill_id] = platform.fills
    platform.faults.clear()

    restarted = start(platform, tmp_path, "--once")
    _, stderr = restarted.communicate(timeout=60)

    assert restarted.returncode == 0, stderr
    assert set(platform.fills) == {fill_id} and platform.duplicates == 1
    assert {body["fills"][0]["fill_id"] for body in platform.calls("fills")} == {fill_id}
    assert platform.acks[open_command()["id"]] == [("accepted", "100001"), ("executed", "100001")]
    assert platform.snapshots[-1]["positions"][0]["ticket"] == "100001"


def test_a_currency_must_be_three_capitals(platform, tmp_path):
    with pytest.raises(CommandError, match="--currency"):
        call_command("paper_bridge", *options(platform, tmp_path, "--once", "--secret", SECRET, "--currency", "usd"))
