"""The bridge's loop against a fake platform: what it sends and in which
order, its state file, a restart after a crash, and the control file."""

import json
import os
import threading

import pytest

from paperbroker.bridge import StateFile, read_control
from paperbroker.client import Stopped
from paperbroker.prices import PriceSourceError
from paperbroker.tests.conftest import KEY_ID, at, bar, command, new_account, open_command
from paperbroker.tests.fake_platform import LOSE_ANSWER

TICKET = "100001"


def sent_calls(platform):
    return [call for call, _, _ in platform.requests]


def test_one_loop_reports_the_open_in_order_then_the_account(platform, make_bridge):
    platform.commands.append(open_command())
    bridge = make_bridge()
    bridge.run(interval=1, once=True)

    assert sent_calls(platform) == ["symbols", "poll", "ack", "fills", "ack", "account"]
    command_id = open_command()["id"]
    assert platform.acks == {command_id: [("accepted", TICKET), ("executed", TICKET)]}
    assert list(platform.fills) == [f"{command_id}-1"]
    [snapshot] = platform.snapshots
    assert [p["ticket"] for p in snapshot["positions"]] == [TICKET]
    assert {s["instrument"] for s in platform.symbols} >= {"EURUSD", "USDJPY", "XAUUSD"}
    assert bridge.account.outbox == []


def test_the_snapshot_waits_for_its_interval(platform, make_bridge):
    bridge = make_bridge(snapshot_interval=5.0)
    for seconds in (0.0, 3.0, 6.0):
        bridge.monotonic = lambda: seconds
        bridge.step()
    assert len(platform.snapshots) == 2  # at 0 and at 6


def test_state_is_saved_before_each_report_is_sent(platform, make_bridge, tmp_path):
    on_disk = []
    platform.on_request = lambda call, body: on_disk.append(
        (call, [item["body"] for item in json.loads((tmp_path / "state.json").read_text())["outbox"]]))
    platform.commands.append(open_command())
    make_bridge().step()

    reports = [(call, outbox) for call, outbox in on_disk if call in ("ack", "fills")]
    assert [call for call, _ in reports] == ["ack", "fills", "ack"]
    for (call, outbox), (_, _, body) in zip(reports, [r for r in platform.requests if r[0] in ("ack", "fills")]):
        assert outbox[0] == body  # the report being sent was on disk, at the head of the outbox


def test_a_report_refused_by_the_platform_is_dropped_and_the_rest_sent(platform, make_bridge):
    platform.commands.append(open_command())
    platform.fault("fills", 422)
    bridge = make_bridge()
    bridge.step()
    assert sent_calls(platform)[1:5] == ["ack", "fills", "ack", "account"]
    assert platform.fills == {} and bridge.account.outbox == []


def test_kill_and_restart_resends_the_unconfirmed_reports_with_the_same_ids(platform, make_bridge, tmp_path):
    platform.commands.append(open_command())
    # The fill reaches the platform, but its answer is lost; the bridge is
    # killed while it waits to try again (stop already set: it gives up at once).
    platform.fault("fills", LOSE_ANSWER)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        make_bridge(stop=stop).step()
    first_fills = platform.calls("fills")
    assert len(first_fills) == 1 and len(platform.fills) == 1
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [item["call"] for item in saved["outbox"]] == ["fills", "ack"]

    restarted = make_bridge()  # a new process: everything it knows comes from the state file
    restarted.step()

    assert platform.calls("fills") == first_fills * 2  # the same fill, byte for byte
    assert (len(platform.fills), platform.duplicates) == (1, 1)
    command_id = open_command()["id"]
    assert platform.acks[command_id] == [("accepted", TICKET), ("executed", TICKET)]
    assert restarted.account.outbox == [] and list(restarted.account.positions) == [TICKET]
    # The command is acknowledged: the platform no longer hands it out, nothing is opened twice.
    restarted.step()
    assert len(restarted.account.positions) == 1 and len(platform.fills) == 1


def test_a_crash_before_the_state_was_saved_redoes_the_command(platform, make_bridge, tmp_path):
    """Before the first save nothing was reported: the command is polled
    again and carried out as if for the first time."""
    platform.commands.append(open_command())
    make_bridge().step()
    (tmp_path / "state.json").unlink()
    platform.acks.clear()
    platform.fills.clear()
    make_bridge().step()
    assert list(platform.fills) == [f"{open_command()['id']}-1"]


def test_state_file_write_is_atomic(tmp_path, monkeypatch):
    state_file = StateFile(tmp_path / "state.json")
    account = new_account()
    state_file.save(account)
    before = state_file.path.read_text()
    account.reject_next = 3

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        state_file.save(account)
    assert state_file.path.read_text() == before
    assert os.listdir(tmp_path) == ["state.json"]  # no temporary file left behind


def test_state_file_round_trip(tmp_path, broker):
    broker.handle_command(open_command(), now=at(1.5))
    StateFile(tmp_path / "state.json").save(broker.account)
    assert StateFile(tmp_path / "state.json").load() == broker.account


def test_control_file_instructions_through_the_bridge(platform, make_bridge, tmp_path):
    control = tmp_path / "control.jsonl"
    control.write_text('{"reject_next": 1}\n{"partial_next": 1, "parts": 2}\nnot json\n')
    platform.commands.extend([open_command(1), open_command(2)])
    bridge = make_bridge()
    bridge.step()

    first, second = open_command(1)["id"], open_command(2)["id"]
    assert platform.acks[first] == [("rejected", None)]
    assert [f for f in platform.fills] == [f"{second}-1", f"{second}-2"]
    assert sent_calls(platform).count("fills") == 2  # two separate calls

    # By hand: close the filled position unreported, open another one.
    with control.open("a") as file:
        file.write('{"close": "%s", "report": false}\n' % bridge.account.filled_orders[open_command(2)
                                                                                   ["client_order_id"]])
        file.write('{"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.20"}}\n')
        file.write('{"reject_next": 5}')  # no newline yet: still being written
    bridge.last_snapshot = None
    bridge.step()

    new_fills = list(platform.fills.values())[2:]
    assert [(f["fill_id"].split("-")[0], f["client_order_id"], f["entry"]) for f in new_fills] == [
        ("manual", None, "in")]
    [_, snapshot] = platform.snapshots
    assert [(p["client_order_id"], p["volume"]) for p in snapshot["positions"]] == [(None, "0.20")]
    assert bridge.account.reject_next == 0

    # A restarted bridge does not apply the lines again, and reads the completed one.
    with control.open("a") as file:
        file.write("\n")
    restarted = make_bridge()
    restarted.step()
    assert restarted.account.reject_next == 5
    assert len(restarted.account.positions) == 1


def test_read_control_keeps_partial_lines_and_restarts_a_replaced_file(tmp_path):
    control = tmp_path / "control.jsonl"
    assert read_control(control, 0) == ([], 0)  # no file yet
    control.write_bytes(b'{"reject_next": 1}\n\n{"reject_')
    lines, offset = read_control(control, 0)
    assert (lines, offset) == ([(19, {"reject_next": 1})], 20)
    control.write_bytes(b'{"reject_next": 2}\n')  # replaced by a shorter file
    assert read_control(control, 20) == ([(19, {"reject_next": 2})], 19)


def test_a_state_file_of_another_bridge_is_refused(tmp_path):
    from django.core.management.base import CommandError

    from paperbroker.management.commands.paper_bridge import Command

    state_file = StateFile(tmp_path / "state.json")
    state_file.save(new_account())
    with pytest.raises(CommandError, match=f"belongs to bridge {KEY_ID}"):
        Command.load_account(state_file, key_id="brg_other", balance=0, currency="USD")


def test_without_prices_the_command_waits_for_the_next_loop(platform, make_bridge, prices):
    platform.commands.append(open_command())
    bridge = make_bridge()
    working_bars = prices.bars

    def unavailable(*args):
        raise PriceSourceError("the candle store is unavailable")

    prices.bars = unavailable
    bridge.step()
    assert platform.acks == {} and bridge.account.positions == {} and bridge.account.handled_commands == {}

    prices.bars = working_bars
    bridge.step()
    assert platform.acks[open_command()["id"]] == [("accepted", TICKET), ("executed", TICKET)]


def test_a_stop_a_bar_reached_closes_there_before_a_close_asked_later(platform, make_bridge, prices):
    # Opened at 07:01 with its stop at 1.08000; the 07:02 bar goes through it. A close asked at
    # 07:03:30 reaches the bridge's next loop at 07:04:30: the position was closed at the stop already.
    platform.commands.append(open_command())
    make_bridge(clock=lambda: at(1.5)).step()
    prices.add("EURUSD", bar(2, "1.08400", "1.08420", "1.07900", "1.07950"),
               bar(3, "1.07950", "1.07960", "1.07600", "1.07600"),
               bar(4, "1.07500", "1.07550", "1.07400", "1.07450"))
    platform.commands.append(command(2, "close", position_ticket=TICKET, reason="user",
                                     created_at="2026-11-26T07:03:30Z"))

    make_bridge(clock=lambda: at(4.5)).step()

    closes = [fill for fill in platform.fills.values() if fill["entry"] == "out"]
    assert [(fill["price"], fill["time"]) for fill in closes] == [("1.08000", "2026-11-26T07:02:00Z")]
