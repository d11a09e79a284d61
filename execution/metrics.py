from django.db import DatabaseError
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from execution.models import Bridge, Position

orders_total = Counter("orders_total", "Orders created or moved to a status (committed), by that status.",
                       ["status"])
fills_total = Counter("fills_total", "Fills stored (committed; duplicates not counted).")
# From the approval to the order's first fill: a bridge polls every few
# seconds, a limit order may wait for its price until the signal expires.
order_fill_seconds = Histogram(
    "order_fill_seconds",
    "Time from an approval to the first fill of its order.",
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, float("inf")),
)


reconciliation_divergences_total = Counter(
    "reconciliation_divergences_total",
    "Reconciliation items that are not a match (committed), by kind.", ["kind"])
positions_autoclosed_total = Counter(
    "positions_autoclosed_total",
    "Positions the platform closed in its books without a closing fill (committed), by close reason.", ["reason"])


def count_order_status(status: str) -> None:
    orders_total.labels(status=status).inc()


class ExecutionCollector:
    """Figures read from the database when /metrics is scraped: how many
    positions are open, and how many seconds ago each enabled bridge last
    polled or sent a snapshot. Worker processes could only count their own
    opens and closes, which a restart or a dead worker would make drift;
    the database is right whichever process answers the scrape."""

    def collect(self):
        try:
            open_positions = Position.objects.filter(status=Position.Status.OPEN).count()
            bridges = list(Bridge.objects.filter(enabled=True).values_list("name", "last_poll_at", "last_snapshot_at"))
        except DatabaseError:  # /metrics must answer with the database down
            return
        yield GaugeMetricFamily("positions_open", "Positions open now (all accounts).", value=open_positions)
        last_seen = GaugeMetricFamily("bridge_last_seen_seconds",
                                      "Seconds since the bridge last polled or sent an account snapshot.",
                                      labels=["bridge"])
        now = timezone.now()
        for name, polled_at, snapshot_at in bridges:
            seen = max((moment for moment in (polled_at, snapshot_at) if moment is not None), default=None)
            if seen is not None:
                last_seen.add_metric([name], max((now - seen).total_seconds(), 0.0))
        yield last_seen
