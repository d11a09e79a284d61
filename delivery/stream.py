"""GET /api/v1/events/stream/: the caller's events as Server-Sent Events,
served by the ASGI process (`config/asgi.py` under uvicorn), where an open
stream costs a coroutine and a queue, not a worker.

One poller per process reads the event rows after the newest it has seen,
every EVENT_STREAM_POLL_SECONDS, and hands each row to the open streams of
its user: one query per interval whatever the number of clients, on either
database, and the rows it reads are those the webhooks send. A stream
resumes after `Last-Event-ID` from the same rows, so a client that loses its
connection, or falls too far behind and is cut off, misses nothing.

A stream lasts as long as the access token it was opened with, and ends
sooner when its user is deactivated or its session logged out; the client
then reconnects with a fresh token and its Last-Event-ID."""

import asyncio
import hashlib
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, close_old_connections, connection
from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.authentication import BearerAuthentication
from accounts.models import SESSION_CLAIM
from core.fields import PLAIN_INTEGER
from core.problems import problem_response
from delivery import selectors, services
from delivery.metrics import event_stream_clients

BATCH = 500  # event rows per query, polling or catching up
QUEUE_LIMIT = 1000  # events waiting for one client before it is cut off (it resumes from the table)
RETRY_MILLISECONDS = 3000  # the reconnection delay a client is told
STREAM_TOKEN_SECONDS = 60
STREAM_TOKEN_SALT = "delivery.stream-token"
ERROR_PAUSE_SECONDS = 1

logger = logging.getLogger(__name__)

# Database work of the streams, off the event loop: the poller in a thread
# of its own (one connection, kept while clients are connected), everything
# else (a connecting client's authentication and catching up) in a few more,
# so a thousand clients never hold a thousand connections.
_poller_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-poller")
_client_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="event-stream")


def _in_thread(executor, *, keep_connection: bool):
    def decorate(function):
        def run(*args, **kwargs):
            close_old_connections()
            try:
                return function(*args, **kwargs)
            finally:
                if not keep_connection:
                    connection.close()
        return sync_to_async(run, thread_sensitive=False, executor=executor)
    return decorate


@dataclass(frozen=True)
class Frame:
    id: int
    text: bytes


def frame_of(event) -> Frame:
    """An event as one SSE message: its id, its type as the event name, and
    the same JSON document a webhook delivery of it carries."""
    return Frame(event.pk, f"id: {event.pk}\nevent: {event.type}\ndata: {services.envelope(event)}\n\n".encode())


@dataclass(eq=False)
class Client:
    user_id: object
    session_id: str | None = None  # the login session it was opened in
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT))
    cut_off: bool = False

    def offer(self, frame: Frame) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.cut_off = True  # ends its stream; it resumes after the last id it got

    def end(self) -> None:
        """Ends its stream now: its session ended or its user was deactivated."""
        self.cut_off = True
        try:
            self.queue.put_nowait(None)  # wakes the stream if it waits for a frame
        except asyncio.QueueFull:
            pass  # it has frames to take, and sees cut_off after the next


@_in_thread(_poller_thread, keep_connection=True)
def _latest_event_id() -> int:
    return selectors.latest_event_id()


@_in_thread(_poller_thread, keep_connection=True)
def _new_frames(after_id: int) -> list[tuple[object, Frame]]:
    return [(event.user_id, frame_of(event)) for event in selectors.events_after(after_id=after_id, limit=BATCH)]


@_in_thread(_poller_thread, keep_connection=True)
def _signed_out(users: set, sessions: set) -> tuple[set, set]:
    return selectors.signed_out(user_ids=users, session_ids=sessions)


@_in_thread(_poller_thread, keep_connection=False)
def _release_poller_connection() -> None:
    pass


class Hub:
    """The open streams of one process (of one event loop), by user, and
    the poller that feeds them while there are any."""

    def __init__(self):
        self.clients: dict[object, set[Client]] = {}
        self.cursor: int | None = None
        self.poller: asyncio.Task | None = None

    def count(self, user_id) -> int:
        return len(self.clients.get(user_id, ()))

    async def join(self, client: Client) -> int:
        """Registers `client`; every event above the returned id reaches it."""
        self.clients.setdefault(client.user_id, set()).add(client)
        event_stream_clients.inc()
        if self.cursor is None:
            latest = await _latest_event_id()
            if self.cursor is None:  # no other stream set it meanwhile
                self.cursor = latest
        if self.poller is None or self.poller.done():
            self.poller = asyncio.get_running_loop().create_task(self._poll())
        return self.cursor

    async def leave(self, client: Client) -> None:
        streams = self.clients.get(client.user_id)
        if streams is None or client not in streams:
            return
        streams.discard(client)
        event_stream_clients.dec()
        if not streams:
            del self.clients[client.user_id]
        if not self.clients and self.poller is not None:
            self.poller.cancel()
            self.poller, self.cursor = None, None
            await _release_poller_connection()

    async def _poll(self) -> None:
        interval = settings.EVENT_STREAM_POLL_SECONDS
        # Authentication happened as each stream opened: a logout or a
        # deactivation ends its streams at the next check, as it reaches every
        # worker's kept users within WORKER_CACHE_SECONDS. One query for all of
        # the process's streams, whatever their number.
        recheck = max(settings.WORKER_CACHE_SECONDS, interval)
        loop = asyncio.get_running_loop()
        next_check = loop.time() + recheck
        while self.clients:
            if loop.time() >= next_check:
                await self._end_signed_out()
                next_check = loop.time() + recheck
            try:
                rows = await _new_frames(self.cursor)
            except DatabaseError:
                # The streams wait (heartbeats go on) and the poller tries again:
                # nothing is lost, the rows stay where they are.
                logger.warning("event stream poll failed", exc_info=True)
                await asyncio.sleep(max(interval, ERROR_PAUSE_SECONDS))
                continue
            for user_id, frame in rows:
                for client in self.clients.get(user_id, ()):
                    client.offer(frame)
            if rows:
                self.cursor = rows[-1][1].id
            if len(rows) < BATCH:
                await asyncio.sleep(interval)

    async def _end_signed_out(self) -> None:
        clients = [client for streams in self.clients.values() for client in streams]
        try:
            users, sessions = await _signed_out({client.user_id for client in clients},
                                                {client.session_id for client in clients if client.session_id})
        except DatabaseError:
            # As a failed poll: the streams go on and are checked again next
            # time; ending them would only send them to reconnect against the
            # same database.
            logger.warning("event stream session check failed", exc_info=True)
            return
        for client in clients:
            if client.user_id in users or client.session_id in sessions:
                client.end()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]


# --- who is asking -----------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    user_id: object  # the user's primary key, as the event rows hold it
    session_id: str | None  # the login session of the access token, None for a token made without one
    expires_at: float  # the end of the stream: the access token's expiry (seconds since the epoch)


def stream_token(*, user, access_token) -> tuple[str, float]:
    """A token that opens the user's event stream within STREAM_TOKEN_SECONDS,
    for browsers' EventSource, which cannot send an Authorization header:
    `?token=` in the stream's URL. It carries the user, the session and the
    expiry of the access token it was made with, which ends the stream."""
    session = access_token.get(SESSION_CLAIM)
    claims = {"u": str(user.pk), "s": str(session) if session else None, "e": access_token["exp"]}
    return signing.dumps(claims, salt=STREAM_TOKEN_SALT, compress=True), timezone.now().timestamp() + STREAM_TOKEN_SECONDS


@_in_thread(_client_threads, keep_connection=False)
def _authenticate(request) -> Caller:
    token = request.GET.get("token")
    if token is None:
        result = BearerAuthentication().authenticate(request)
        if result is None:
            raise AuthenticationFailed("Authentication credentials were not provided.")
        user, access = result
        session = access.get(SESSION_CLAIM)
        return Caller(user_id=user.pk, session_id=str(session) if session else None, expires_at=float(access["exp"]))
    try:
        claims = signing.loads(token, salt=STREAM_TOKEN_SALT, max_age=STREAM_TOKEN_SECONDS)
    except signing.BadSignature:
        raise AuthenticationFailed("The stream token is invalid or expired.") from None
    if claims["e"] <= timezone.now().timestamp():
        raise AuthenticationFailed("The access token the stream token was made with has expired.")
    user_id = selectors.signed_in_user_id(user_id=claims["u"], session_id=claims["s"])
    if user_id is None:
        raise AuthenticationFailed("The stream token's session has ended.")
    # One stream per token. With the cache unreachable `add` answers None and
    # the stream opens: the cache only speeds things up or limits rates, and
    # fails open (docs/operations.md); a replayed token still opens streams
    # only of a live session for its 60 s, and each ends when the session does.
    used = hashlib.sha256(token.encode()).hexdigest()
    if cache.add(f"delivery:stream-token-used:{used}", True, timeout=STREAM_TOKEN_SECONDS) is False:
        raise AuthenticationFailed("The stream token has been used; ask for a new one.")
    return Caller(user_id=user_id, session_id=claims["s"], expires_at=float(claims["e"]))


@_in_thread(_client_threads, keep_connection=False)
def _backlog(user_id, after_id: int) -> list[Frame]:
    return [frame_of(event) for event in selectors.events_after(after_id=after_id, limit=BATCH, user_id=user_id)]


# --- the view ------------------------------------------------------------------------

def _last_event_id(request) -> int | None | str:
    """The id to resume after: the Last-Event-ID header (what EventSource
    sends when it reconnects), else `?last_event_id=`; None to start now.
    A string is the error."""
    raw = request.headers.get("Last-Event-ID", request.GET.get("last_event_id"))
    if raw is None or raw == "":
        return None
    if not PLAIN_INTEGER.fullmatch(raw) or len(raw) > 19:
        return "Must be the id of an event (a non-negative integer)."
    return int(raw)


async def event_stream(request):
    if request.method != "GET":
        return problem_response(405, path=request.path, headers={"Allow": "GET"})
    if not isinstance(request, ASGIRequest):
        # Under WSGI an open stream would hold a worker for its whole life.
        return problem_response(421, path=request.path, slug="stream-not-served-here",
                                detail="The event stream is served by the platform's ASGI process "
                                       "(docs/operations.md), not by this one.")
    after = _last_event_id(request)
    if isinstance(after, str):
        return problem_response(422, path=request.path, detail=after, extra={"errors": {"Last-Event-ID": [after]}})
    try:
        caller = await _authenticate(request)
    except (AuthenticationFailed, InvalidToken, TokenError) as refused:
        return problem_response(401, path=request.path, detail=_message_of(refused),
                                headers={"WWW-Authenticate": 'Bearer realm="api"'})
    events = hub()
    if events.count(caller.user_id) >= settings.EVENT_STREAM_MAX_PER_USER:
        return problem_response(429, path=request.path, slug="too-many-streams", headers={"Retry-After": "5"},
                                detail=f"You have {settings.EVENT_STREAM_MAX_PER_USER} event streams open, "
                                       "the most allowed.")
    client = Client(user_id=caller.user_id, session_id=caller.session_id)
    response = StreamingHttpResponse(_frames(events, client, caller, after),
                                     content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies such as nginx pass each event on at once
    return response


def _message_of(refused: Exception) -> str:
    detail = getattr(refused, "detail", refused)
    if isinstance(detail, dict):  # simplejwt nests its message: {"detail": ..., "code": ..., "messages": ...}
        detail = detail.get("detail")
    return str(detail)


async def _frames(events: Hub, client: Client, caller: Caller, after: int | None):
    loop = asyncio.get_running_loop()
    heartbeat = settings.EVENT_STREAM_HEARTBEAT_SECONDS
    # The loop's clock for the token's end: time.time() at this moment, moved on by the loop's own.
    ends_at = loop.time() + (caller.expires_at - timezone.now().timestamp())
    try:
        cursor = await events.join(client)  # here, not in the view: a stream never started never joins
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        last = cursor
        if after is not None:
            last = after
            while True:
                backlog = await _backlog(caller.user_id, last)
                for frame in backlog:
                    yield frame.text
                    last = frame.id
                if len(backlog) < BATCH:
                    break
        next_heartbeat = loop.time() + heartbeat
        while not client.cut_off:
            now = loop.time()
            if now >= ends_at:
                return
            if now >= next_heartbeat:
                yield b": heartbeat\n\n"
                next_heartbeat = now + heartbeat
            try:
                frame = await asyncio.wait_for(client.queue.get(), timeout=min(ends_at, next_heartbeat) - loop.time())
            except TimeoutError:
                continue
            if frame is None:  # ended (Client.end)
                return
            if frame.id > last:
                yield frame.text
                last = frame.id
                next_heartbeat = loop.time() + heartbeat
    finally:
        await events.leave(client)
