"""The paper bridge's loop: it polls the platform, has the paper broker
carry out the commands and the control file's instructions, reports the
deals and the account, and keeps the broker's state on disk.

Crash safety: the state file is written (atomically: a temporary file, then
os.replace) before every call that reports something, and a report leaves
the outbox only once the platform confirmed it. After a kill, the restarted
bridge sends what was not confirmed again, with the same fill ids and acks,
which the platform recognises: nothing is lost or counted twice.

The control file takes one JSON object per line, appended by whoever wants
(tests, demos, drills); each loop reads the complete lines added since the
last loop (the offset read so far is part of the state):

    {"reject_next": 1}                          reject the next open
    {"partial_next": 1, "parts": 2}             fill the next open in 2 deals
    {"close": "100001", "report": false}        close a position by hand; with
                                                report false the platform is not told
    {"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.10"}}
                                                open a position by hand (no client_order_id);
                                                "report": false as for close
    {"price": {"XAUUSD": "1985.00"}}            move the constant price source's bids from
                                                now on (until the bridge stops: a restarted
                                                one starts from the reference prices again)
    {"correct": {"ticket": "100001", "open_price": "1.08550"}}
                                                the broker corrects a position's open price
                                                without a deal: only the snapshots show it
"""

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from paperbroker.broker import SYMBOLS, Account, InstructionError, PaperBroker
from paperbroker.client import BridgeClient, Refused
from paperbroker.logs import log
from paperbroker.prices import PriceSourceError, utc_now


class StateFile:
    def __init__(self, path: Path):
        self.path = path
        self.written: str | None = None

    def load(self) -> Account | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        self.written = text
        return Account.from_json(json.loads(text))

    def save(self, account: Account) -> None:
        """Writes the account unless the file already holds exactly it; a
        crash at any moment leaves either the old file or the new one."""
        text = json.dumps(account.to_json(), indent=1, sort_keys=True)
        if text == self.written:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise
        self.written = text


def read_control(path: Path | None, offset: int) -> tuple[list[tuple[int, dict | None]], int]:
    """The control file's complete lines after byte `offset`, each as (the
    offset after it, its JSON or None when it is not JSON), blank lines
    left out, and the offset after the last complete line. A line still
    being written (no newline yet) waits for the next read; a file shorter
    than the offset was replaced: it is read from its start."""
    if path is None:
        return [], offset
    try:
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_size < offset:
                log("control.restarted", level=logging.WARNING, file=path)
                offset = 0
            file.seek(offset)
            data = file.read()
    except FileNotFoundError:
        return [], offset
    lines, end = [], offset
    for raw in data[:data.rfind(b"\n") + 1].splitlines(keepends=True):
        end += len(raw)
        if raw.strip():
            try:
                lines.append((end, json.loads(raw)))
            except ValueError:
                lines.append((end, None))
    return lines, end


class PaperBridge:
    def __init__(self, *, broker: PaperBroker, client: BridgeClient, state_file: StateFile,
                 control_path: Path | None, snapshot_interval: float, stop: threading.Event,
                 clock: Callable[[], datetime] = utc_now, monotonic: Callable[[], float] = time.monotonic):
        self.broker = broker
        self.account = broker.account
        self.client = client
        self.state_file = state_file
        self.control_path = control_path
        self.snapshot_interval = snapshot_interval
        self.stop = stop
        self.clock = clock
        self.monotonic = monotonic
        self.last_snapshot: float | None = None

    def run(self, *, interval: float, once: bool = False, before_step: Callable[[], None] | None = None) -> None:
        """Sends the symbol specs, then steps every `interval` seconds until
        `stop` is set (or once). Unauthorized and Stopped pass through."""
        self.state_file.save(self.account)
        self.send_symbols()
        while not self.stop.is_set():
            if before_step is not None:
                before_step()
            self.step()
            if once or self.stop.wait(interval):
                break

    def send_symbols(self) -> None:
        try:
            answer = self.client.post("symbols", {"symbols": [spec.wire() for spec in SYMBOLS.values()]})
        except Refused as refused:
            log("symbols.refused", level=logging.ERROR, error=refused)
        else:
            log("symbols.sent", count=len(SYMBOLS), updated=answer.get("updated"))

    def step(self) -> None:
        """One loop: whatever is left to report, the stops and targets the
        bars since the last loop reached, the control file, the polled
        commands, the stops and targets again (of what they opened), and the
        snapshot when due. Stops first: a position whose stop a bar reached
        was closed there, before any close asked for since could take it at
        a later bar's price. Without prices the loop ends early: what was
        done so far is reported, the rest is done on the next loop."""
        self.flush()
        try:
            self.broker.check_stops(now=self.clock())
            self.flush()
            self.apply_control()
            self.flush()
            for command in self.poll():
                self.broker.handle_command(command, now=self.clock())
                self.flush()
            self.broker.check_stops(now=self.clock())
            self.flush()
            if self.last_snapshot is None or self.monotonic() - self.last_snapshot >= self.snapshot_interval:
                self.send_snapshot()
        except PriceSourceError as error:
            log("prices.unavailable", level=logging.WARNING, error=error)
            self.flush()

    def apply_control(self) -> None:
        lines, offset = read_control(self.control_path, self.account.control_offset)
        for end, instruction in lines:
            try:
                if instruction is None:
                    raise InstructionError("not JSON")
                self.broker.apply_instruction(instruction, now=self.clock())
            except InstructionError as error:
                log("control.ignored", level=logging.WARNING, line_end=end, error=error)
            else:
                log("control.applied", instruction=json.dumps(instruction, sort_keys=True))
            # Line by line: an instruction cut short by the price source is read
            # again on the next loop, the ones before it are not.
            self.account.control_offset = end
        self.account.control_offset = offset

    def poll(self) -> list[dict]:
        try:
            commands = self.client.post("poll", {}).get("commands") or []
        except Refused as refused:
            log("poll.refused", level=logging.ERROR, error=refused)
            return []
        if commands:
            log("poll", commands=len(commands))
        return commands

    def flush(self) -> None:
        """Sends the queued reports in order, each saved before it is sent
        and dropped once the platform confirmed it. A report the platform
        refuses (a 4xx other than 401) would be refused again: it is logged
        and dropped, and reconciliation shows what it would have changed."""
        outbox = self.account.outbox
        while outbox:
            self.state_file.save(self.account)
            report = outbox[0]
            try:
                answer = self.client.post(report["call"], report["body"])
            except Refused as refused:
                log("report.refused", level=logging.ERROR, error=refused, body=json.dumps(report["body"]))
            else:
                log(f"{report['call']}.sent", **_summary(report["body"]), answer=json.dumps(answer, sort_keys=True))
            outbox.pop(0)
        self.state_file.save(self.account)

    def send_snapshot(self) -> None:
        snapshot = self.broker.snapshot(now=self.clock())
        self.state_file.save(self.account)
        try:
            answer = self.client.post("account", snapshot)
        except Refused as refused:
            log("account.refused", level=logging.ERROR, error=refused)
        else:
            log("account.sent", balance=snapshot["balance"], equity=snapshot["equity"],
                positions=len(snapshot["positions"]), answer=json.dumps(answer, sort_keys=True))
        self.last_snapshot = self.monotonic()


def _summary(body: dict) -> dict:
    """What a log line says about a report."""
    if "fills" in body:
        fill = body["fills"][0]
        return {key: fill[key] for key in ("fill_id", "position_ticket", "entry", "side", "volume", "price")}
    return {key: body[key] for key in ("command", "status", "broker_ticket", "error") if body[key]}
