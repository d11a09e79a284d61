"""The signal resource as the API writes it (docs/api.md#signals): by hand,
because DRF deep-copies every declared field for every instance, which was
most of the cost of rendering a signal (per ingestion, and per row of a
list). signals/serializers.py declares the same members for the schema.
Other apps that publish signals (delivery's event outbox) render them here."""

from core.fields import rfc3339
from core.prices import format_price
from signals import chart_link
from signals.models import Signal


def signal_resources(signals, *, request=None) -> list[dict]:
    """The signals as the API writes them, their `chart_url` absolute when
    there is a request to take the host from (a path otherwise). The rows
    need what selectors.signal_queryset() joins (a new signal: its approval
    cached as None). One chart probe for them all, not one per signal."""
    signals = list(signals)
    charted = chart_link.charted(signals)
    return [_resource(signal, charted, request) for signal in signals]


def _resource(signal: Signal, charted: set | None, request) -> dict:
    digits = signal.instrument.digits
    approval = getattr(signal, "approval", None)  # None if undecided
    return {
        "id": str(signal.pk),
        "instrument": signal.instrument.symbol,
        "side": signal.side,
        "time": rfc3339(signal.time),
        "version": signal.version,
        "entry_price": format_price(signal.entry_price, digits),
        "stop_loss": format_price(signal.stop_loss, digits),
        "take_profit": format_price(signal.take_profit, digits),
        "payload": signal.payload,
        "status": signal.effective_status(),
        "expires_at": rfc3339(signal.expires_at),
        "created_at": rfc3339(signal.created_at),
        "producer": signal.producer.name,
        "owner": signal.owner.username,
        "approval": None if approval is None else {
            "id": str(approval.pk), "decision": approval.decision, "created_at": rfc3339(approval.created_at)},
        # Null while the signal has no bars to draw, rather than a link that answers 404.
        "chart_url": (chart_link.signal_chart_url(signal, request=request)
                      if charted is None or signal.pk in charted else None),
    }


def ingested_resource(signal: Signal) -> dict:
    """The resource of a signal an ingestion has just written or replayed,
    with `chart_url` a path, rendered once: the new signal's events and the
    ingestion's answer show this one document (rendered apart, they could
    straddle the hour its chart link is signed for). The instance keeps it,
    so it is only for an instance nothing changes after this call."""
    if not hasattr(signal, "_ingested_resource"):
        signal._ingested_resource = signal_resources([signal])[0]
    return signal._ingested_resource
