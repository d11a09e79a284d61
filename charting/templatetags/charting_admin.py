"""The operators' console shows charts on the signal and instrument pages
(templates/admin/signals/*/change_form.html) through these tags, so the
signals app's admin classes need not know about charting."""

from django import template

from charting import links, selectors
from core.chart_frame import DEFAULT_BARS
from charting.models import Timeframe
from core.display import utc_time
from core.prices import format_price
from signals.chart_link import signal_chart_url

register = template.Library()

LATEST_ROWS = 12
# Links in the console only need to outlive the page view.
ADMIN_LINK_TTL_SECONDS = 3600


@register.inclusion_tag("charting/admin/signal_chart.html")
def signal_chart(signal):
    if signal is None or selectors.signal_timeframe(signal=signal) is None:
        return {"url": None}
    return {"url": signal_chart_url(signal), "signal": signal}


@register.inclusion_tag("charting/admin/latest_candles.html")
def latest_candles(instrument):
    """The newest bars (of the timeframe with the newest bar) as a mini chart
    and a table."""
    if instrument is None:
        return {"rows": []}
    newest = instrument.candles.order_by("-time").values_list("timeframe", flat=True).first()
    if newest is None:
        return {"rows": []}
    bars = list(instrument.candles.filter(timeframe=newest).order_by("-time")[:LATEST_ROWS])
    digits = instrument.digits
    rows = [{"time": utc_time(bar.time),
             **{name: format_price(getattr(bar, name), digits) for name in ("open", "high", "low", "close")},
             "volume": format(bar.volume.normalize(), "f")} for bar in bars]
    path, _ = links.link_for(chart="candles", ttl=ADMIN_LINK_TTL_SECONDS,
                             params={"instrument": instrument.symbol, "timeframe": newest, "width": 900,
                                     "height": 360, "bars": DEFAULT_BARS})
    return {"rows": rows, "timeframe": Timeframe(newest).label, "chart_url": path,
            "count": instrument.candles.filter(timeframe=newest).count()}
