from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.models import ConsentText
from signals.models import Instrument, Producer, Signal


def instrument(symbol):
    # get_or_create: a transactional test runs after others' flushes, which
    # remove the migrations' rows (the shipped instruments, consent v1).
    return Instrument.objects.get_or_create(symbol=symbol)[0]


@pytest.fixture
def consent_v1(db):
    return ConsentText.objects.get_or_create(version="1", defaults={"text": "Consent v1.",
                                                                   "published_at": timezone.now()})[0]


@pytest.fixture
def make_signal(db):
    """A signal in `owner`'s feed, as ingestion stores it (signals' own tests
    cover the signed ingestion itself)."""
    counter = iter(range(1, 10**6))

    def make(owner, *, expires_in=900, created_ago=0, **fields):
        now = timezone.now()
        created_at, expires_at = now - timedelta(seconds=created_ago), now + timedelta(seconds=expires_in)
        producer, _ = Producer.objects.get_or_create(name=f"engine-{owner.username}", owner=owner,
                                                     defaults={"key_id": f"pk_{owner.username}"})
        fields.setdefault("side", Signal.Side.BUY)
        return Signal.objects.create(
            owner=owner, producer=producer, instrument=instrument(fields.pop("symbol", "EURUSD")),
            time=min(created_at, expires_at) - timedelta(seconds=1), version=next(counter),
            entry_price=Decimal("1.08450"), expires_at=expires_at, created_at=created_at,
            fingerprint="0" * 64, **fields,
        )

    return make
