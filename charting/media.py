"""Cached, single-flight chart images and their HTTP answers.

A chart's cache key is its kind, its parameters and the version of the data
it draws (charting/charts.py builds those), so fresh data simply makes a new
key and nothing needs purging; old keys expire on their own. For the same
reason a worker may keep the images it read from the shared cache for a few
seconds (charting/caches.py): what a key names never changes.

Single flight: many simultaneous requests for one uncached chart render it
once. Threads of one process queue on a process-local lock per key; with
Redis, processes additionally agree through a Redis lock, and the losers poll
the cache for the winner's image. The cache is an accelerator only: with
Redis unreachable a chart is rendered and served uncached, never a 5xx.
"""

import hashlib
import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from redis.exceptions import RedisError

from charting import caches
from charting.metrics import media_cache_hits_total, media_render_seconds, media_render_total

logger = logging.getLogger(__name__)

CACHE_SECONDS = 24 * 3600
# A render is bounded (bars <= 1000, at most 2400x1600 px) and takes well
# under a second; these only matter when a renderer died mid-way.
LOCK_SECONDS = 30
WAIT_SECONDS = 10
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Chart:
    """What to draw: `kind` (the metric label), `identity` (every parameter
    and the data version, JSON-serialisable) and `draw()` returning PNG bytes."""

    kind: str
    identity: dict
    draw: Callable[[], bytes]

    @property
    def cache_key(self) -> str:
        canonical = json.dumps(self.identity, sort_keys=True, separators=(",", ":"), default=str)
        return f"chart:{self.kind}:{hashlib.sha256(canonical.encode()).hexdigest()}"


@dataclass(frozen=True)
class ChartImage:
    png: bytes
    etag: str

    @classmethod
    def of(cls, png: bytes) -> "ChartImage":
        return cls(png=png, etag=f'"{hashlib.sha256(png).hexdigest()}"')


def chart_image(chart: Chart) -> ChartImage:
    """The chart's image from the cache, or rendered once for everyone asking."""
    key = chart.cache_key
    image = _cached(key, chart.kind)
    if image is not None:
        return image
    with _local_lock(key):
        image = _cached(key, chart.kind)
        if image is not None:
            return image
        return _render_once_across_processes(key, chart)


def _cached(key: str, kind: str) -> ChartImage | None:
    image = caches.images.get(key, lambda: _shared(key), keep=_worth_keeping)
    if image is not None:
        media_cache_hits_total.labels(type=kind).inc()
    return image


def _shared(key: str) -> ChartImage | None:
    # Stored as a plain (etag, png) tuple: any version of this code can read it.
    value = cache.get(key)
    if isinstance(value, tuple) and len(value) == 2:
        return ChartImage(etag=value[0], png=value[1])
    return None


def _worth_keeping(image: ChartImage | None) -> bool:
    return image is not None and len(image.png) <= caches.KEPT_IMAGE_BYTES


def _render(chart: Chart) -> ChartImage:
    started = time.perf_counter()
    png = chart.draw()
    media_render_seconds.labels(type=chart.kind).observe(time.perf_counter() - started)
    media_render_total.labels(type=chart.kind).inc()
    return ChartImage.of(png)


def _render_and_store(key: str, chart: Chart) -> ChartImage:
    image = _render(chart)
    cache.set(key, (image.etag, image.png), CACHE_SECONDS)
    return image


def _render_once_across_processes(key: str, chart: Chart) -> ChartImage:
    if not hasattr(cache, "lock"):  # the local-memory cache: the process-local lock was enough
        return _render_and_store(key, chart)
    lock = cache.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking=False, thread_local=False)
    try:
        acquired = lock.acquire()
    except RedisError:
        logger.warning("chart cache unavailable; rendering uncached", extra={"kind": chart.kind})
        return _render(chart)
    if acquired:
        try:
            return _render_and_store(key, chart)
        finally:
            try:
                lock.release()
            except RedisError:
                pass  # the lock expires by itself
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        image = _cached(key, chart.kind)
        if image is not None:
            return image
        try:
            if not lock.locked():  # the other renderer gave up without storing
                break
        except RedisError:
            break
    return _render_and_store(key, chart)


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self):
        self.lock = threading.Lock()
        self.users = 0


_registry_guard = threading.Lock()
_key_locks: dict[str, _KeyLock] = {}


@contextmanager
def _local_lock(key: str):
    """A lock per cache key, held in the registry only while someone uses it."""
    with _registry_guard:
        entry = _key_locks.setdefault(key, _KeyLock())
        entry.users += 1
    # Bounded: a stuck renderer must not hold every other request forever.
    acquired = entry.lock.acquire(timeout=WAIT_SECONDS)
    try:
        yield
    finally:
        if acquired:
            entry.lock.release()
        with _registry_guard:
            entry.users -= 1
            if entry.users == 0:
                del _key_locks[key]


# --- HTTP ---------------------------------------------------------------------

def png_response(request, image: ChartImage, *, cache_control: str) -> HttpResponse:
    """200 with the PNG, or 304 when the client already holds these bytes."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    headers = {"ETag": image.etag, "Cache-Control": cache_control}
    if if_none_match and _matches(if_none_match, image.etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(image.png, content_type="image/png")
        response["Content-Length"] = str(len(image.png))
    for name, value in headers.items():
        response[name] = value
    if cache_control.startswith("private"):
        response["Vary"] = "Authorization"
    return response


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match asks for."""
    tags = parse_etags(if_none_match)
    return "*" in tags or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}
