"""Demo data for `python manage.py load_demo`: a producer for the demo trader
and a few signals in each status. Safe to run repeatedly: the signals are
loaded again, with fresh times, only once none of them is still pending (the
README's walk-through decided them, or they expired), so the feed always
has some to decide."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from signals import services
from signals.models import Instrument, Producer, Signal
from signals.selectors import with_effective_status

PRODUCER_NAME = "demo-strategy"
DAY = timedelta(days=1)

# instrument, side, entry, stop loss, take profit, minutes ago, expires after (from now), outcome:
# "expire" here, a decision by demo/decisions.py (after the trader's bridge exists, so that an
# approval becomes an order).
# USDJPY expires last, so it is the one the demo decisions decide (they keep the
# soonest-expiring pending): EURUSD and XAUUSD, which have demo candles, stay
# pending. Stored oldest first, as a strategy sends them, so the feed (newest
# first) opens on EURUSD: the signal the README's walk-through decides and whose
# order and position it shows.
DEMO_SIGNALS = [
    ("USDCHF", "buy", "0.88120", "0.87800", "0.88800", 300, -timedelta(hours=4), "expire"),
    ("AUDUSD", "sell", "0.65830", "0.66200", "0.65100", 120, DAY, "rejected"),
    ("GBPUSD", "buy", "1.27210", "1.26800", "1.28000", 90, DAY, "approved"),
    ("NZDUSD", "sell", "0.59870", "0.60200", "0.59300", 45, -timedelta(minutes=10), None),
    ("XAUUSD", "buy", "2395.50", "2380.00", "2430.00", 20, DAY, None),
    ("USDJPY", "sell", "151.420", "152.000", "150.500", 12, DAY + timedelta(hours=1), None),
    ("EURUSD", "buy", "1.08450", "1.08100", "1.09100", 5, DAY, None),
]


def decisions() -> dict[str, str]:
    """The demo signals' own decisions, by instrument (demo/decisions.py makes them)."""
    return {symbol: outcome for symbol, *_, outcome in DEMO_SIGNALS if outcome in ("approved", "rejected")}


def load(*, stdout, users):
    trader = users["trader"]
    producer = Producer.objects.filter(name=PRODUCER_NAME).first()
    if producer is None:
        producer, secret = services.create_producer(name=PRODUCER_NAME, owner=trader)
    else:
        # Secrets are never shown twice: each run issues a fresh one and ends the
        # previous one, so the secret printed last is always the one that works.
        secret = services.rotate_producer_secret(producer=producer, grace_seconds=0)
    stdout.write(f"Demo producer {producer.name!r} (feed of {trader.username}): key id {producer.key_id}")
    stdout.write(f"  secret (valid until the next load_demo): {secret}")
    if not with_effective_status(Signal.objects.filter(producer=producer), Signal.Status.PENDING).exists():
        _signals(producer)


def _signals(producer):
    now = timezone.now()
    to_expire = []
    for version, (symbol, side, entry, stop, target, ago, expires, outcome) in enumerate(DEMO_SIGNALS, start=1):
        signal, _ = services.ingest_signal(
            producer=producer, instrument=Instrument.objects.get(symbol=symbol), side=side,
            time=now - timedelta(minutes=ago), version=version, entry_price=Decimal(entry),
            stop_loss=Decimal(stop), take_profit=Decimal(target), expires_at=now + expires,
            payload={"strategy": "demo", "note": f"{side} {symbol} on a demo breakout"},
        )
        if outcome == "expire":
            to_expire.append(signal)
    if to_expire:
        # Up to an hour ago: NZDUSD (lapsed 10 minutes ago) stays stored as pending and reads as expired.
        services.expire_signals(now=now - timedelta(hours=1))
