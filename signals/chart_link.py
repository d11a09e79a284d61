"""The signal resource's `chart_url`: a signed link (core/signed_links.py) to
the signal's chart at the default size. The charting app draws it, at the URL
named `public-chart-signal`; the link is made by that name, so signals, below
charting, needs none of its code. Whether a signal has bars to draw is
charting's to say too: it provides the probe from its `ready()`."""

import time
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Callable, Iterable

from django.urls import reverse

from core.chart_frame import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from core.signed_links import MAX_TTL_SECONDS, signed_path

CHART_PARAMS = {"width": DEFAULT_WIDTH, "height": DEFAULT_HEIGHT, "bars": DEFAULT_BARS}
# The link expires on a whole hour, so that the URL (and what browsers and
# chat proxies cache under it) stays the same for an hour.
TTL_SECONDS = MAX_TTL_SECONDS
GRANULARITY_SECONDS = 3600


def _expiry(now: float) -> int:
    return (int(now) + TTL_SECONDS) // GRANULARITY_SECONDS * GRANULARITY_SECONDS


def signal_chart_url(signal, *, request=None) -> str:
    """Absolute when there is a request to take the host from."""
    path = signed_path(reverse("public-chart-signal", kwargs={"pk": signal.pk}), CHART_PARAMS,
                       expires=_expiry(time.time()))
    return request.build_absolute_uri(path) if request is not None else path


def links_signed_since(now: datetime) -> datetime:
    """Since when the links signed at `now` have been the ones signed: a
    resource that shows one changes then, with no change of its own."""
    return datetime.fromtimestamp(_expiry(now.timestamp()) - TTL_SECONDS, tz=dt_timezone.utc)


_chart_probe: Callable[[list], set] | None = None


def provide_chart_probe(probe: Callable[[list], set]) -> None:
    """`probe(signals)`: the ids of those of `signals` whose chart has bars
    to draw, in one query."""
    global _chart_probe
    _chart_probe = probe


def _keep(signals: list, found: set) -> None:
    for signal in signals:
        signal._has_chart = signal.pk in found


def charted(signals: Iterable) -> set | None:
    """The ids of `signals` that have a chart, or None when no app draws
    charts (then every signal links to its chart). Each signal instance
    keeps its answer, so that rendering it again within the request asks
    nothing more: an ingestion renders its signal for its event and again
    for its answer, which then say the same."""
    if _chart_probe is None:
        return None
    signals = list(signals)
    unknown = [signal for signal in signals if not hasattr(signal, "_has_chart")]
    if unknown:
        _keep(unknown, _chart_probe(unknown))
    return {signal.pk for signal in signals if signal._has_chart}
