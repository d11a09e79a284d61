"""Who is asking, from where, under which request id: set once per request by
the middleware and the authentication classes, read by the access log and the
audit receivers, so no view has to pass it along by hand."""

from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    ip: str | None = None
    user_agent: str = ""
    actor_type: str = "system"  # "user" | "producer" | "system"
    actor: str | None = None


_current: ContextVar[RequestContext] = ContextVar("request_context", default=RequestContext())


def current() -> RequestContext:
    return _current.get()


def begin(**fields) -> object:
    """Start a fresh context (one per request); returns a token for `end`."""
    return _current.set(RequestContext(**fields))


def end(token) -> None:
    _current.reset(token)


def set_actor(actor_type: str, actor: str | None) -> None:
    _current.set(replace(_current.get(), actor_type=actor_type, actor=actor))
