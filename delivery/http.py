"""One webhook attempt over HTTP: signed per the Standard Webhooks
specification, sent to an address that passed delivery/addresses.py at this
moment, with a total time limit, no redirects followed (a redirect is a
failed attempt: the receiver must answer at the URL it registered), and
never more of the answer read than needed to reuse the connection."""

import heapq
import itertools
import socket
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import urllib3
from standardwebhooks.webhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, SSLError, TimeoutError

from delivery.addresses import RefusedTarget, resolve, target_of

USER_AGENT = "tradeplatform-webhooks/1"
ANSWER_READ_BYTES = 64 * 1024  # read and dropped so the connection can serve the next attempt
POOLS_KEPT = 64
CONNECT_TIMEOUT_SECONDS = 5
COULD_NOT_CONNECT = "Could not connect (refused or unreachable)."
# Host names are resolved here, so that the attempt's time limit bounds a
# slow DNS answer too (getaddrinfo has no timeout of its own): past the
# limit the attempt fails and the thread finishes its lookup on its own.
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-resolve")


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str  # what went wrong, never the answer's body
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def receiver_unwell(self) -> bool:
        """A failure of the receiver as a whole (unreachable, timing out, 5xx,
        429, a redirect), not of this one message (another 4xx): the sender
        waits before trying that endpoint again."""
        code = self.status_code
        return not self.succeeded and (code is None or code >= 500 or code in (408, 429) or 300 <= code < 400)


def signature(secrets: list[str], *, msg_id: str, timestamp: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,<base64>` per live secret, space-separated
    (both while a rotated secret's grace lasts, so a receiver may switch at
    its own pace)."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


class _Deadline:
    """The end of one attempt. A socket's timeout bounds each read, not their
    sum: a receiver sending a byte now and then could hold an attempt as long
    as it liked. At the deadline the attempt's socket is shut down, whatever
    it waits for (the TLS handshake, the status line, the body)."""

    def __init__(self, seconds: float):
        self.passed = self.ended = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        _watchdog.add(self, time.monotonic() + seconds)

    def watch(self, sock) -> None:
        # A socket of our own on the same connection: a TLS socket takes over
        # the one it wraps, and shakes hands before urllib3 shows it.
        own = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._sockets.append(own)
            if self.passed:
                _shut_down(own)

    def expire(self) -> None:
        with self._lock:
            if self.ended:
                return
            self.passed = True
            for sock in self._sockets:
                _shut_down(sock)

    def end(self) -> bool:
        """Stops the clock; whether the deadline had passed."""
        with self._lock:
            self.ended = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()
            return self.passed


class _Watchdog:
    """One thread of the process expires every attempt's deadline in turn: a
    timer thread started for each attempt cost a third of a delivery's time
    (`bench webhooks`)."""

    def __init__(self):
        self._due: list[tuple[float, int, _Deadline]] = []  # a heap, soonest first
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline, when: float) -> None:
        with self._changed:
            heapq.heappush(self._due, (when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._due and self._due[0][2].ended:
                    heapq.heappop(self._due)
                if not self._due:
                    self._changed.wait()
                    continue
                when, _, deadline = self._due[0]
                if (left := when - time.monotonic()) > 0:
                    self._changed.wait(left)
                    continue
                heapq.heappop(self._due)
                deadline.expire()


_watchdog = _Watchdog()


def _shut_down(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # the connection is gone already
        pass


# The deadline of the attempt this thread makes, for its connection to watch.
_attempt = threading.local()


class _WatchedConnection:
    """A connection whose socket is under the current attempt's deadline: a
    new one as soon as it exists, a reused one when it sends."""

    _watched_by = None

    def _new_conn(self):
        sock = super()._new_conn()
        self._watched_by = _attempt.deadline
        self._watched_by.watch(sock)
        return sock

    def request(self, *args, **kwargs):
        if self.sock is not None and self._watched_by is not _attempt.deadline:
            self._watched_by = _attempt.deadline
            self._watched_by.watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _Pools:
    """Connection pools by (scheme, address, port, host name), kept across
    attempts so that a busy endpoint's connection is reused; the least
    recently used are closed beyond POOLS_KEPT."""

    def __init__(self):
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            if scheme == "https":
                # Connect to the checked address, but verify the certificate
                # of (and send SNI for) the host name the URL gives.
                pool = _HTTPSPool(address, port, maxsize=4, server_hostname=host,
                                  assert_hostname=host, cert_reqs="CERT_REQUIRED")
            else:
                pool = _HTTPPool(address, port, maxsize=4)
            self._pools[key] = pool
            while len(self._pools) > POOLS_KEPT:
                self._pools.popitem(last=False)[1].close()
            return pool


_pools = _Pools()


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """The attempt, `timeout` seconds at most from first to last: resolving
    the host, connecting (to each of its addresses in turn while one refuses
    or cannot be reached), sending and reading the answer."""
    started = time.monotonic()
    too_late = f"No answer within {timeout:g} s."

    def outcome(status_code=None, error=""):
        return Outcome(status_code=status_code, error=error, duration_ms=round((time.monotonic() - started) * 1000))

    try:
        scheme, host, port = target_of(url)
        addresses = _resolver.submit(resolve, host, port).result(timeout=timeout)
    except RefusedTarget as refused:
        return outcome(error=str(refused))
    except FutureTimeout:  # the resolver's thread finishes on its own; the attempt does not wait for it
        return outcome(error=too_late)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = port == (443 if scheme == "https" else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
    status_code, error = None, too_late
    for address in addresses:
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0:
            return outcome(error=too_late)
        pool = _pools.get(scheme, address, port, host)
        _attempt.deadline = deadline = _Deadline(remaining)
        try:
            status_code, error = _exchange(pool, path, body=body, headers={**headers, "Host": host_header},
                                           timeout=remaining, deadline=deadline, too_late=too_late)
        finally:
            deadline.end()
        if error != COULD_NOT_CONNECT:
            break
    return outcome(status_code, error)


def _exchange(pool, path: str, *, body: bytes, headers: dict[str, str], timeout: float, deadline: _Deadline,
              too_late: str) -> tuple[int | None, str]:
    """(status code, what went wrong) of one request and its answer."""
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers={**headers, "User-Agent": USER_AGENT},
            redirect=False, retries=False, assert_same_host=False, preload_content=False,
            timeout=urllib3.Timeout(total=timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)))
    except NewConnectionError:  # urllib3 makes it a kind of connect timeout: it is not one
        return None, COULD_NOT_CONNECT
    except TimeoutError:
        return None, too_late
    except HTTPError as failure:  # the deadline's shutdown looks like a connection closed
        return None, too_late if deadline.end() else _connection_error(failure)
    try:
        response.read(ANSWER_READ_BYTES, decode_content=False)
        reusable = not response.read(1, decode_content=False)  # longer than that: the connection is not reused
    except (TimeoutError, HTTPError):
        reusable = False  # the status line came: the answer stands, unless the deadline passed
    if deadline.end():
        response.close()
        return None, too_late
    if reusable:
        response.release_conn()
    else:
        response.close()
    error = "" if 200 <= response.status < 300 else (
        f"Redirected ({response.status}); redirects are not followed." if 300 <= response.status < 400
        else f"Answered {response.status}.")
    return response.status, error


def _connection_error(failure: HTTPError) -> str:
    if isinstance(failure, SSLError):
        return "TLS handshake failed (certificate or protocol)."
    if isinstance(failure, ProtocolError):
        return "The connection closed before an answer."
    return f"Connection failed ({type(failure).__name__})."
