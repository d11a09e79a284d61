"""The performance charts, plugged into charting's chart kinds
(charting/registry.py): `monthly` (a calendar heatmap of monthly returns),
`drawdown` (the underwater curve) and `r-multiples` (the histogram of
realized R). Charting serves them (JWT view, signed links, ETag, cache,
single flight, byte cap); this module says whose figures a request may see
and reads them from the rollups."""

from rest_framework.exceptions import NotFound

from analytics import selectors
from analytics.serializers import AnalyticsQuerySerializer
from charting.registry import ChartData, ChartKind, register
from charting.render.performance import (MonthlyReturns, RMultiples, Underwater, render_drawdown,
                                         render_monthly_returns, render_r_multiples)


def _subject(*, user, params) -> dict:
    """The account or strategy the caller may see, as a link carries it."""
    subject = selectors.subject_for(user=user, producer=params.get("producer"), username=params.get("user"))
    if subject.producer is not None:
        return {"strategy": str(subject.producer.pk), "window": params["window"]}
    if subject.bridge is None:
        raise NotFound("No trading account.")
    return {"account": str(subject.bridge.pk), "window": params["window"]}


def _label(subject: selectors.Subject, window: str) -> str:
    name = subject.producer.name if subject.producer is not None else subject.bridge.name
    return f"{name} · {window}"


def _loader(build, nothing: str):
    """A kind's `load`: the version from one aggregate over the window's
    rows; the data itself only when the picture is not cached."""

    def load(*, subject, frame):
        window = subject["window"]
        found = selectors.subject_by_id(account=subject.get("account"), strategy=subject.get("strategy"))
        version = selectors.chart_version(subject=found, window=window)
        if version is None:
            raise NotFound(nothing)

        def data():
            built = build(found, window)
            if built is None:
                raise NotFound(nothing)
            return built

        return ChartData(version=version, load=data)

    return load


def _monthly(subject, window):
    months = selectors.monthly_returns(subject=subject, window=window)
    return MonthlyReturns(months=tuple(months), label=_label(subject, window)) if months else None


def _drawdown(subject, window):
    days, values = selectors.drawdowns(subject=subject, window=window)
    return Underwater(days=tuple(days), drawdown=tuple(values), label=_label(subject, window)) if days else None


def _r_multiples(subject, window):
    values = selectors.r_multiples(subject=subject, window=window)
    return RMultiples(values=tuple(values), label=_label(subject, window)) if values else None


KINDS = (
    ChartKind(name="monthly", summary="Monthly returns as a calendar heatmap: years as rows, each month's daily "
                                      "returns compounded.",
              subject=_subject, load=_loader(_monthly, "No daily returns yet."), draw=render_monthly_returns,
              params=AnalyticsQuerySerializer),
    ChartKind(name="drawdown", summary="The underwater curve: each day's drawdown under the running peak.",
              subject=_subject, load=_loader(_drawdown, "No daily returns yet."), draw=render_drawdown,
              params=AnalyticsQuerySerializer),
    ChartKind(name="r-multiples", summary="Histogram of the realized R multiples of closed positions, with "
                                          "their mean.",
              subject=_subject, load=_loader(_r_multiples, "No closed position with an initial risk yet."),
              draw=render_r_multiples, params=AnalyticsQuerySerializer),
)


def register_charts():
    for kind in KINDS:
        register(kind)
