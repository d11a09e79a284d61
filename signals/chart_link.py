"""The signal resource's `chart_url`: a signed link (core/signed_links.py) to
the signal's chart at the default size. The charting app draws it, at the URL
named `public-chart-signal`; the link is made by that name, so signals, below
charting, needs none of its code. Whether a signal has bars to draw is
charting's to say too: it provides the probe from its `ready()`."""

import time
from typing import Callable, Iterable

from django.urls import reverse

from core.chart_frame import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from core.signed_links import MAX_TTL_SECONDS, signed_path

CHART_PARAMS = {"width": DEFAULT_WIDTH, "height": DEFAULT_HEIGHT, "bars": DEFAULT_BARS}
# The link expires on a whole hour, so that the URL (and what browsers and
# chat proxies cache under it) stays the same for an hour.
TTL_SECONDS = MAX_TTL_SECONDS
GRANULARITY_SECONDS = 3600


def signal_chart_url(signal, *, request=None) -> str:
    """Absolute when there is a request to take the host from."""
    expires = (int(time.time()) + TTL_SECONDS) // GRANULARITY_SECONDS * GRANULARITY_SECONDS
    path = signed_path(reverse("public-chart-signal", kwargs={"pk": signal.pk}), CHART_PARAMS, expires=expires)
    return request.build_absolute_uri(path) if request is not None else path


_chart_probe: Callable[[list], set] | None = None


def provide_chart_probe(probe: Callable[[list], set]) -> None:
    """`probe(signals)`: the ids of those of `signals` whose chart has bars
    to draw, in one query."""
    global _chart_probe
    _chart_probe = probe


def charted(signals: Iterable) -> set | None:
    """The ids of `signals` that have a chart, or None when no app draws
    charts (then every signal links to its chart)."""
    return _chart_probe(list(signals)) if _chart_probe is not None else None
