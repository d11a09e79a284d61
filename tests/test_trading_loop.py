"""The whole trading loop over HTTP, with a real paper bridge process: a
producer posts a signed signal with a stop loss, its owner approves it, the
order is sized from the symbol specs and the account snapshot the bridge
sent, the bridge fills it, the fill makes a position, and the owner closes
it. Midway the bridge is killed (SIGKILL) after the platform recorded the
fill but before the bridge learnt so or acknowledged the command; restarted
on the same state file, it sends both again and nothing is counted twice.

The paper bridge prices from its constant source (EURUSD at 1.08500 all
along), so it needs no database of its own: it only speaks HTTP to the live
server, as any bridge does, and the test runs on SQLite and PostgreSQL alike.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from execution import services as execution_services
from execution.models import Command, Fill, Position
from signals import services as signal_services
from tests.fixtures import PASSWORD
from tradeplatform_client import post_signed

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 30
BRIDGE_API = "/api/v1/bridge/"
START_BALANCE = Decimal("10000.00")
# The paper bridge's costs: a buy pays the bid + 10 points, every deal pays 3.50 per lot.
SPREAD_POINTS, COMMISSION_PER_LOT = "10", "3.5"
# The signal: EURUSD buy at the constant source's price, its stop 200 ticks below.
ENTRY, STOP, TARGET = Decimal("1.08500"), Decimal("1.08300"), Decimal("1.09000")
TICK_SIZE, TICK_VALUE = Decimal("0.00001"), Decimal("1")  # the paper broker's EURUSD specs
RISK_PERCENT = Decimal("1.0")  # the default risk policy's risk per trade, % of the equity

pytestmark = pytest.mark.django_db(transaction=True)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def wait_for(what: str, condition):
    """`condition()`'s first truthy value, asked every 0.1 s."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


class Api:
    """A person's JWT calls to the live server."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        status, tokens = self.call("POST", "/api/v1/auth/token/", {"username": username, "password": password})
        assert status == 200, tokens
        self.access = tokens["access"]

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "access", None):
            headers["Authorization"] = f"Bearer {self.access}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> dict:
        status, body = self.call("GET", path)
        assert status == 200, body
        return body


class Network:
    """The way from the test and the bridge to the live server: an HTTP proxy
    that passes one request at a time (the live server's threads share one
    in-memory SQLite connection, which cannot serve two requests at once).
    After `fail_after(call)`, the bridge's link fails: the next request for
    that bridge call still reaches the platform but its answer is lost (503),
    and every bridge call after it gets 503 without reaching the platform,
    until `restore()`. The person's calls go through all along."""

    def __init__(self, target_url: str):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port)
        self.lock = threading.Lock()
        self.failing_after: str | None = None
        self.down = False
        network = self

        class Handler(BaseHTTPRequestHandler):
            def relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, content_type, content = network.pass_on(self.command, self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = relay

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def fail_after(self, call: str) -> None:
        self.failing_after = call

    def restore(self) -> None:
        self.failing_after, self.down = None, False

    def pass_on(self, method: str, path: str, headers, body: bytes) -> tuple[int, str, bytes]:
        unavailable = (503, "application/json", b"{}")
        from_bridge = path.startswith(BRIDGE_API)
        with self.lock:
            if self.down and from_bridge:
                return unavailable
            connection = HTTPConnection(*self.target, timeout=10)
            try:
                connection.request(method, path, body, {name: value for name, value in headers.items()
                                                        if name.lower() not in ("host", "connection")})
                response = connection.getresponse()
                answer = (response.status, response.getheader("Content-Type", ""), response.read())
            finally:
                connection.close()
            if from_bridge and path.rstrip("/") == BRIDGE_API + str(self.failing_after):
                self.down = True
                return unavailable
            return answer

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class PaperBridge:
    """`manage.py paper_bridge` as its own process, logging to a file."""

    def __init__(self, tmp_path: Path, *, name: str, base_url: str, key_id: str, secret: str):
        self.state_file = tmp_path / "state.json"
        self.log_file = tmp_path / f"{name}.log"
        with self.log_file.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "paper_bridge", "--base-url", base_url, "--key-id", key_id,
                 "--price-source", "constant", "--state-file", str(self.state_file),
                 "--control-file", str(tmp_path / "control.jsonl"), "--interval", "0.2",
                 "--snapshot-interval", "0.5", "--balance", str(START_BALANCE), "--spread", SPREAD_POINTS,
                 "--commission-per-lot", COMMISSION_PER_LOT],
                # The constant prices need no database: none is given, so any access would fail loudly.
                cwd=ROOT, env={**os.environ, "PAPER_BRIDGE_SECRET": secret,
                               "DATABASE_URL": f"sqlite:///{tmp_path / 'no-database-here' / 'db.sqlite3'}"},
                stdout=subprocess.DEVNULL, stderr=log)

    def logged(self, text: str) -> bool:
        return text in self.log_file.read_text()

    def answers(self, call: str) -> list[dict]:
        """The platform's answers to `call` as the bridge logged them (one
        JSON line per action, the answer a quoted JSON text in its message)."""
        messages = [json.loads(line)["message"] for line in self.log_file.read_text().splitlines()]
        return [json.loads(json.loads(re.search(r'answer=("(?:[^"\\]|\\.)*")', message)[1]))
                for message in messages if message.startswith(f"{call}.sent ")]

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def stop(self, number=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(number)
        self.process.wait(timeout=WAIT_SECONDS)


@pytest.fixture
def started():
    """Stops whatever a test started, also when it fails."""
    things = []

    def start(thing):
        things.append(thing)
        return thing

    yield start
    for thing in reversed(things):
        if isinstance(thing, Network):
            thing.close()
        else:
            thing.stop(signal.SIGKILL)


def test_an_approval_becomes_a_filled_order_a_position_and_a_close_through_a_paper_bridge(
        live_server, make_user, tmp_path, started):
    trader = make_user("trader")
    producer, producer_secret = signal_services.create_producer(name="engine", owner=trader)
    bridge, bridge_secret = execution_services.create_bridge(name="paper", owner=trader, account_ref="PAPER-E2E")
    network = started(Network(live_server.url))
    first = started(PaperBridge(tmp_path, name="first", base_url=network.url, key_id=bridge.key_id,
                                secret=bridge_secret))
    # The bridge sends its symbol specs as it starts, then account snapshots.
    wait_for("the bridge's first snapshot", lambda: first.logged("account.sent"))
    assert first.logged("symbols.sent count=8 updated=8")

    now = datetime.now(UTC)
    body = json.dumps({"instrument": "EURUSD", "side": "buy", "time": rfc3339(now), "version": 1,
                       "entry_price": str(ENTRY), "stop_loss": str(STOP), "take_profit": str(TARGET),
                       "expires_at": rfc3339(now + timedelta(minutes=10))}).encode()
    status, _, answer = post_signed(f"{network.url}/api/v1/signals/", body, key_id=producer.key_id,
                                    secret=producer_secret)
    assert status == 201, answer
    signal_id = json.loads(answer)["id"]

    api = Api(network.url, "trader", PASSWORD)
    # The platform will record the fill, but its answer is lost, and the network is down from then on.
    network.fail_after("fills")
    status, approval = api.call("POST", "/api/v1/approvals/",
                                {"signal": signal_id, "decision": "approved", "consent_version": "1"})
    assert status == 201, approval

    # Sized from the snapshot's equity: risk 1 % of 10,000 over 200 ticks of 1 USD per lot: 0.50 lots.
    budget = START_BALANCE * RISK_PERCENT / 100
    volume = budget / ((ENTRY - STOP) / TICK_SIZE * TICK_VALUE)
    assert volume == Decimal("0.5")
    [order] = wait_for("the filled order", lambda: [o for o in api.get("/api/v1/orders/")["results"]
                                                     if o["status"] == "filled"])
    assert (order["signal"], order["approval"], Decimal(order["volume"])) == (signal_id, approval["id"], volume)
    [position] = api.get("/api/v1/positions/?status=open")["results"]
    assert (position["order"], position["signal"], position["origin"]) == (order["id"], signal_id, "platform")
    assert (Decimal(position["volume"]), position["ticket"]) == (volume, order["broker_ticket"])
    assert Decimal(position["open_price"]) == ENTRY + 10 * TICK_SIZE  # the ask: bid + the spread

    # The bridge has the fill and the acknowledgement still to send, on disk: killed now, it loses nothing.
    wait_for("the bridge retrying the fill", lambda: first.logged("call.retry call=fills"))
    assert [report["call"] for report in first.state()["outbox"]] == ["fills", "ack"]
    first.stop(signal.SIGKILL)

    network.restore()
    second = started(PaperBridge(tmp_path, name="second", base_url=network.url, key_id=bridge.key_id,
                                 secret=bridge_secret))
    wait_for("the acknowledgement sent again", lambda: second.logged("ack.sent"))
    assert second.answers("fills") == [{"inserted": 0, "duplicates": 1}]  # the fill, recognised
    # The outbox is saved after the line is logged: wait for the file, not the log.
    wait_for("the outbox emptied on disk", lambda: second.state()["outbox"] == [])
    [position] = api.get("/api/v1/positions/?status=open")["results"]
    assert Decimal(position["volume"]) == volume

    status, command = api.call("POST", f"/api/v1/positions/{position['id']}/close/")
    assert status == 202, command
    assert (command["type"], command["reason"], command["position_ticket"]) == ("close", "user", position["ticket"])

    def closed_position():
        shown = api.get(f"/api/v1/positions/{position['id']}/")
        return shown if shown["status"] == "closed" else None

    closed = wait_for("the closed position", closed_position)
    second.stop()

    # What the broker booked: its balance moved by every deal's profit, commission and swap.
    booked = Decimal(second.state()["balance"]) - START_BALANCE
    assert booked == Decimal("-8.50")  # 10 points of spread on 0.50 lots (-5.00), 1.75 commission in and out
    assert (closed["close_reason"], Decimal(closed["volume"]), Decimal(closed["realized_pnl"])) == (
        "user", Decimal(0), booked)
    fills = Fill.objects.filter(bridge=bridge)
    assert fills.count() == 2
    assert sum(fill.profit + fill.commission + fill.swap for fill in fills) == booked
    stored = Position.objects.get(bridge=bridge)
    assert (stored.opened_volume, stored.close_price) == (volume, ENTRY)
    assert dict(Command.objects.filter(bridge=bridge).values_list("type", "status")) == {
        "open": "executed", "close": "executed"}
