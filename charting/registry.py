"""Chart kinds: what an app plugs in to have charting serve a chart.

Charting keeps the HTTP side of every chart: the JWT view
`/api/v1/charts/<name>/`, signed links (`POST /api/v1/charts/links/` with
`"chart": "<name>"`, answered at `/charts/<name>/`), strong ETags and 304s,
the render cache, single flight, the byte cap and the metrics. A kind brings
what only its app knows: who may see which subject, how to read a cheap
version of the data and the data itself, and which renderer draws it. So an
app above charting (analytics) adds charts without view code, and charting
never imports it: the app registers its kinds from its `AppConfig.ready()`.

Charting's own charts show two facts that only the app that trades
(execution, above charting) knows: a signal's fill and close
(`provide_signal_trades`) and the account's currency
(`provide_account_currency`); that app provides them from its `ready()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from charting.media import Chart
from charting.render.drawing import SignalTrade
from charting.render.layout import Size
from core.chart_frame import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH

# Query parameters charting reads itself; a kind's subject cannot use them.
RESERVED = frozenset({"width", "height", "bars", "chart", "ttl", "expires", "signature", "format"})


@dataclass(frozen=True)
class Frame:
    """The common query parameters: pixel size and how many bars (or points,
    or days) to draw."""

    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    bars: int = DEFAULT_BARS

    @property
    def size(self) -> Size:
        return Size(self.width, self.height)

    def identity(self) -> dict:
        # The cap changes the bytes, so it is part of what is cached.
        return {"width": self.width, "height": self.height, "bars": self.bars, "cap": settings.CHART_MAX_BYTES}


@dataclass(frozen=True)
class ChartData:
    """`version` goes into the cache key and must change whenever what
    `load()` returns changes; `load()` runs only when the image is not cached."""

    version: Any
    load: Callable[[], Any]


@dataclass(frozen=True)
class ChartKind:
    """`subject(*, user, params)` -> dict[str, str]: what the chart shows for
    this user (raises NotFound for what they may not see); a signed link
    carries it. `load(*, subject, frame)` -> ChartData, cheap: it runs on every
    answer (raises NotFound when there is nothing to draw). `draw(data, *,
    size, max_bytes)` -> PNG bytes. `params`: the kind's own query
    parameters, validated before `subject` sees them."""

    name: str
    summary: str
    subject: Callable[..., dict]
    load: Callable[..., ChartData]
    draw: Callable[..., bytes]
    params: type[serializers.Serializer] | None = None
    uses_bars: bool = False


_kinds: dict[str, ChartKind] = {}


def register(kind: ChartKind) -> None:
    """Called from an AppConfig.ready(), before the URLconf is read (it
    makes one route per kind)."""
    if kind.name in _kinds and _kinds[kind.name] != kind:
        raise ImproperlyConfigured(f"chart kind {kind.name!r} is registered twice")
    if kind.name == "signal" or not kind.name.replace("-", "").isalnum():
        raise ImproperlyConfigured(f"{kind.name!r} cannot name a chart kind")
    _kinds[kind.name] = kind


def kinds() -> list[ChartKind]:
    return list(_kinds.values())


def get(name: str) -> ChartKind | None:
    return _kinds.get(name)


def subject_of(kind: ChartKind, *, user, params: dict) -> dict[str, str]:
    subject = {name: str(value) for name, value in kind.subject(user=user, params=params).items()}
    if RESERVED & subject.keys():
        raise ImproperlyConfigured(f"chart kind {kind.name!r} uses a reserved parameter")
    return subject


def chart_of(kind: ChartKind, *, subject: dict[str, str], frame) -> Chart:
    """The kind's chart of `subject` at `frame`, ready for media.chart_image."""
    data = kind.load(subject=subject, frame=frame)
    # The cap changes the bytes, so it is part of what is cached.
    identity = {"subject": subject, "width": frame.width, "height": frame.height,
                "cap": settings.CHART_MAX_BYTES, "data": data.version}
    if kind.uses_bars:
        identity["bars"] = frame.bars
    return Chart(kind.name, identity,
                 lambda: kind.draw(data.load(), size=frame.size, max_bytes=settings.CHART_MAX_BYTES))


# --- facts of higher apps that charting's own charts show -----------------------

_signal_trades: Callable[..., tuple[SignalTrade, ...]] | None = None


def provide_signal_trades(provider: Callable[..., tuple[SignalTrade, ...]]) -> None:
    """`provider(*, signal)`: the trades of one signal, oldest first; one
    cheap query, as it runs on every answer of an approved signal's chart."""
    global _signal_trades
    _signal_trades = provider


def signal_trades(*, signal) -> tuple[SignalTrade, ...]:
    # Only an approved signal becomes an order; skip the query for the rest.
    if _signal_trades is None or signal.status != "approved":
        return ()
    return tuple(_signal_trades(signal=signal))


_account_currency: Callable[..., str | None] | None = None


def provide_account_currency(provider: Callable[..., str | None]) -> None:
    """`provider(*, owner_id)`: the currency of the user's trading account,
    or None; the equity chart labels its axis with it."""
    global _account_currency
    _account_currency = provider


def account_currency(*, owner_id) -> str | None:
    return _account_currency(owner_id=owner_id) if _account_currency is not None else None
