import collections
from functools import partial

from django.db import DatabaseError, transaction
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
    "Positions closed on the platform's own initiative (committed), by close reason: `broker` (closed in the books "
    "after three snapshots without it), or the reason of the close it asked for (`approval_expired`, "
    "`drawdown_guard`, ...) when the broker's closing fill arrives.", ["reason"])
# The close reasons of the platform's own closes. The others are the owner's
# (`user`), the broker's stop or target, or a close by hand at the broker.
AUTOMATIC_CLOSE_REASONS = frozenset({
    Position.CloseReason.BROKER, Position.CloseReason.APPROVAL_EXPIRED, Position.CloseReason.DRAWDOWN_GUARD,
    Position.CloseReason.DAILY_LOSS_GUARD, Position.CloseReason.MARKET_GUARD})


def count_order_status(status: str, orders: int = 1) -> None:
    orders_total.labels(status=status).inc(orders)


def count_autoclosed(close_reasons) -> None:
    """Counts, when the transaction commits, the positions among these
    closes (their close reasons) that the platform closed on its own."""
    closed = collections.Counter(reason for reason in close_reasons if reason in AUTOMATIC_CLOSE_REASONS)
    if closed:
        transaction.on_commit(partial(_count_autoclosed, closed))


def _count_autoclosed(closed: collections.Counter) -> None:
    for reason, n in closed.items():
        positions_autoclosed_total.labels(reason=reason).inc(n)


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
