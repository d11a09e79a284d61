"""The harness of the tests that trade through a live server and real paper
bridge processes (`manage.py paper_bridge`): the people's JWT calls and a
staff member's console session over HTTP, the proxy they and the bridges
reach the server through, the bridge processes and their control file, and
the clocks. Test modules import the fixtures they use (`desk`, `started`).

The paper bridges price from the constant source (EURUSD at 1.08500, gold at
2000.00, until the control file moves them), so they need no database of
their own: they only speak HTTP to the live server, as any bridge does, and
the tests run on SQLite and PostgreSQL alike.

Clocks: the live server runs in the test process, so time-machine moves its
clock (`Desk.travel`); a bridge started meanwhile runs in a process whose
clock is as far ahead (tests/shifted_clock.py), so what it dates and signs
agrees with the server. Moved again while a bridge runs, the server's clock
leaves the bridge's behind by that much: a minute is within what the
signatures and the staleness check allow.
"""

import contextlib
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
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine

from execution import services as execution_services
from signals import services as signal_services
from tests.fixtures import PASSWORD
from tradeplatform_client import post_signed

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 30
BRIDGE_API = "/api/v1/bridge/"
START_BALANCE = Decimal("10000.00")
# The paper bridge's costs: a buy pays the bid + 10 points, every deal pays 3.50 per lot.
SPREAD_POINTS, COMMISSION_PER_LOT = "10", "3.5"
# How often the bridges loop, and the setting that tells the platform so.
BRIDGE_INTERVAL, SNAPSHOT_INTERVAL, POLL_INTERVAL_SETTING = "0.2", "0.5", 1
# Hop-by-hop headers and those the proxy sets itself.
NOT_RELAYED = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def wait_for(what: str, condition):
    """`condition()`'s first truthy value, asked every 0.1 s."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def _parsed(content: bytes) -> dict:
    """A JSON answer, or what came instead (a page, an empty body), to show in a failure."""
    try:
        return json.loads(content)
    except ValueError:
        return {"not_json": content.decode(errors="replace")[:2000]}


def decision(order: dict) -> tuple[str, list[str]]:
    """What the pre-trade checks decided: ("denied", its reasons) or
    ("placed", []), whatever the bridge did with a placed order since."""
    return ("denied" if order["status"] == "denied" else "placed"), order["reasons"]


class Api:
    """A person's JWT calls to the live server. A token that expired (the
    server's clock was moved on) is replaced by a new login."""

    def __init__(self, base_url: str, username: str, password: str = PASSWORD):
        self.base_url, self.credentials = base_url, {"username": username, "password": password}
        self.access = None
        self.login()

    def login(self) -> None:
        self.access = None
        status, tokens = self.call("POST", "/api/v1/auth/token/", self.credentials)
        assert status == 200, tokens
        self.access = tokens["access"]

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, answer = self._send(method, path, body)
        if status == 401 and self.access:
            self.login()
            status, answer = self._send(method, path, body)
        return status, answer

    def _send(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.access:
            headers["Authorization"] = f"Bearer {self.access}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, _parsed(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _parsed(error.read())

    def get(self, path: str) -> dict:
        status, body = self.call("GET", path)
        assert status == 200, body
        return body


class Console:
    """A staff member in the admin, as a browser: the login form, the session
    and CSRF cookies (kept by hand: they are `Secure`, and the live server
    speaks plain HTTP), forms posted without following redirects."""

    def __init__(self, base_url: str, username: str, password: str = PASSWORD):
        target = urlsplit(base_url)
        self.address = (target.hostname, target.port)
        self.cookies: dict[str, str] = {}
        self.get("/admin/login/")
        status, _ = self.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
        assert status == 302, f"the console refused {username}'s login"

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode({**form, "csrfmiddlewaretoken": self.cookies["csrftoken"]}, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = HTTPConnection(*self.address, timeout=10)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                self.cookies.update((name, morsel.value) for name, morsel in SimpleCookie(header).items())
            return response.status, response.read().decode()
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> tuple[int, str]:
        return self.request("POST", path, form)


class Network:
    """The way from the test and the bridges to the live server: an HTTP
    proxy that passes one request at a time (the live server's threads share
    one in-memory SQLite connection, which cannot serve two requests at
    once; `quiet()` keeps requests out while the test reads the database
    itself). After `fail_after(call)`, the bridge's link fails: the next
    request for that bridge call still reaches the platform but its answer
    is lost (503), and every bridge call after it gets 503 without reaching
    the platform, until `restore()`. The person's calls go through all along."""

    def __init__(self, target_url: str):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port)
        self.lock = threading.Lock()
        self.failing_after: str | None = None
        self.down = self.closed = False
        network = self

        class Handler(BaseHTTPRequestHandler):
            def relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, content = network.pass_on(self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
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

    @contextlib.contextmanager
    def quiet(self):
        """No request reaches the server meanwhile (one in progress ends first)."""
        with self.lock:
            yield

    def pass_on(self, method: str, path: str, headers, body: bytes) -> tuple[int, list, bytes]:
        unavailable = (503, [("Content-Type", "application/json")], b"{}")
        from_bridge = path.startswith(BRIDGE_API)
        with self.lock:
            if self.closed or (self.down and from_bridge):
                return unavailable
            connection = HTTPConnection(*self.target, timeout=10)
            try:
                connection.request(method, path, body, {name: value for name, value in headers.items()
                                                        if name.lower() not in ("host", "connection")})
                response = connection.getresponse()
                answer = (response.status, [(name, value) for name, value in response.getheaders()
                                            if name.lower() not in NOT_RELAYED], response.read())
            finally:
                connection.close()
            if from_bridge and path.rstrip("/") == BRIDGE_API + str(self.failing_after):
                self.down = True
                return unavailable
            return answer

    def close(self):
        """Once the request in progress, if any, is answered, nothing more
        reaches the server: the test's end empties the tables next."""
        with self.lock:
            self.closed = True
        self.server.shutdown()
        self.server.server_close()


class PaperBridge:
    """`manage.py paper_bridge` as its own process, logging to a file. Its
    account (`state.json`) and control file are those of every bridge
    started in the same directory: a second one is the first, restarted.
    `clock_offset`: seconds its clock runs ahead of the machine's."""

    def __init__(self, tmp_path: Path, *, name: str, base_url: str, key_id: str, secret: str,
                 clock_offset: float = 0.0, slippage: str = "0"):
        self.state_file = tmp_path / "state.json"
        self.control_file = tmp_path / "control.jsonl"
        self.log_file = tmp_path / f"{name}.log"
        command = ["manage.py", "paper_bridge", "--base-url", base_url, "--key-id", key_id,
                   "--price-source", "constant", "--state-file", str(self.state_file),
                   "--control-file", str(self.control_file), "--interval", BRIDGE_INTERVAL,
                   "--snapshot-interval", SNAPSHOT_INTERVAL, "--balance", str(START_BALANCE),
                   "--spread", SPREAD_POINTS, "--commission-per-lot", COMMISSION_PER_LOT, "--slippage", slippage]
        if clock_offset:
            command = ["-m", "tests.shifted_clock", repr(clock_offset), *command]
        with self.log_file.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, *command],
                # The constant prices need no database: none is given, so any access would fail loudly.
                cwd=ROOT, env={**os.environ, "PAPER_BRIDGE_SECRET": secret,
                               "DATABASE_URL": f"sqlite:///{tmp_path / 'no-database-here' / 'db.sqlite3'}"},
                stdout=subprocess.DEVNULL, stderr=log)

    def log(self) -> list[dict]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def logged(self, text: str) -> bool:
        return text in self.log_file.read_text()

    def answers(self, call: str) -> list[dict]:
        """The platform's answers to `call` as the bridge logged them (one
        JSON line per action, the answer a quoted JSON text in its message)."""
        messages = [line["message"] for line in self.log()]
        return [json.loads(json.loads(re.search(r'answer=("(?:[^"\\]|\\.)*")', message)[1]))
                for message in messages if message.startswith(f"{call}.sent ")]

    def snapshots_sent(self) -> int:
        return len(self.answers("account"))

    def write_control(self, *instructions: dict) -> None:
        """Appends the instructions to the control file, as an operator would."""
        with self.control_file.open("a") as file:
            file.writelines(json.dumps(instruction) + "\n" for instruction in instructions)

    def control(self, *instructions: dict) -> None:
        """Writes the instructions and waits until this bridge carried them out."""
        done = self._control_lines()
        self.write_control(*instructions)
        wait_for("the control instructions", lambda: self._control_lines() >= done + len(instructions))
        ignored = [line["message"] for line in self.log() if line["message"].startswith("control.ignored")]
        assert not ignored, ignored

    def _control_lines(self) -> int:
        return sum(line["message"].startswith(("control.applied", "control.ignored")) for line in self.log())

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def hang(self) -> None:
        """SIGSTOP: the process is there and says nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def wake(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self, number=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(number)
            if number != signal.SIGKILL:
                self.process.send_signal(signal.SIGCONT)  # a hung one hears it too
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


class Desk:
    """A trader's whole desk on the live server: their login (`api`), their
    strategy engine (a producer posting signed signals), their broker
    account behind a paper bridge (`start_bridge`), and the server's clock
    (`travel`). Everything goes through `network`."""

    def __init__(self, *, live_server, make_user, tmp_path: Path, started, time_machine_fixture):
        self.trader = make_user("trader")
        self.producer, self.producer_secret = signal_services.create_producer(name="engine", owner=self.trader)
        self.bridge, self.bridge_secret = execution_services.create_bridge(name="paper", owner=self.trader,
                                                                           account_ref="PAPER-E2E")
        self.network = started(Network(live_server.url))
        self.tmp_path, self.started, self.time_machine = tmp_path, started, time_machine_fixture
        self.versions = count(1)
        self.api = Api(self.network.url, "trader")

    # -- the clocks -----------------------------------------------------------------

    def travel(self, moment: datetime) -> None:
        """Moves the live server's clock to `moment`; it ticks on from there."""
        self.time_machine.move_to(moment, tick=True)

    @staticmethod
    def clock_offset() -> float:
        """How far the server's clock is ahead of the machine's, in seconds."""
        if not time_machine.escape_hatch.is_travelling():
            return 0.0
        return time.time() - time_machine.escape_hatch.time.time()

    # -- the bridge --------------------------------------------------------------------

    def start_bridge(self, name: str = "bridge", **options) -> PaperBridge:
        """A paper bridge process on the trader's account (the same account
        at every start), its clock agreeing with the server's; returned once
        the server has its first snapshot."""
        bridge = self.started(PaperBridge(self.tmp_path, name=name, base_url=self.network.url,
                                          key_id=self.bridge.key_id, secret=self.bridge_secret,
                                          clock_offset=self.clock_offset(), **options))
        wait_for(f"{name}'s first snapshot", bridge.snapshots_sent)
        return bridge

    # -- the trader's moves --------------------------------------------------------------

    def signal(self, *, instrument: str = "EURUSD", side: str = "buy", entry: str = "1.08500",
               stop: str | None = "1.08300", target: str | None = None) -> str:
        """A signal the engine posts (signed) for the trader; its id."""
        now = datetime.now(UTC)
        body = {"instrument": instrument, "side": side, "time": rfc3339(now), "version": next(self.versions),
                "entry_price": entry, "stop_loss": stop, "take_profit": target,
                "expires_at": rfc3339(now + timedelta(minutes=10))}
        status, _, answer = post_signed(f"{self.network.url}/api/v1/signals/",
                                        json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
                                        key_id=self.producer.key_id, secret=self.producer_secret)
        assert status == 201, answer
        return json.loads(answer)["id"]

    def approve(self, signal_id: str) -> dict:
        """The trader approves the signal; the order it made, as the API shows it."""
        status, approval = self.api.call("POST", "/api/v1/approvals/",
                                         {"signal": signal_id, "decision": "approved", "consent_version": "1"})
        assert status == 201, approval
        orders = self.api.get("/api/v1/orders/?page_size=200")["results"]
        return next(order for order in orders if order["approval"] == approval["id"])

    def order(self, order_id: str) -> dict:
        return self.api.get(f"/api/v1/orders/{order_id}/")

    def positions(self, status: str = "open") -> list[dict]:
        return self.api.get(f"/api/v1/positions/?status={status}&page_size=200")["results"]

    def risk(self) -> dict:
        return self.api.get("/api/v1/risk/")["state"]

    def runs(self) -> list[dict]:
        """The account's reconciliation runs, oldest first."""
        return self.api.get("/api/v1/reconciliation/?page_size=200")["results"][::-1]


@pytest.fixture
def desk(live_server, make_user, tmp_path, started, time_machine, settings):
    settings.BRIDGE_POLL_INTERVAL_SECONDS = POLL_INTERVAL_SETTING
    return Desk(live_server=live_server, make_user=make_user, tmp_path=tmp_path, started=started,
                time_machine_fixture=time_machine)
