"""Rows for every figure of the operators' dashboard (config/dashboard.py),
and what each figure must then say: tests/test_dashboard.py and the browser
test build the same console."""

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from django.contrib.auth import get_user_model
from django.utils import timezone

from approvals.models import Approval
from audit.services import append_entry
from execution.models import (
    AccountSnapshot,
    AccountState,
    Bridge,
    Order,
    ReconciliationItem,
    ReconciliationRun,
)
from signals.models import Instrument, Producer, Signal

# A Tuesday morning, UTC.
NOW = datetime(2027, 1, 12, 9, 30, tzinfo=UTC)
TODAY = datetime(2027, 1, 12, tzinfo=UTC)

# What the figures say about the rows `populate` makes.
EXPECTED = {
    "pending-signals": 2, "decisions-today": 3, "orders-today": 2, "orders-denied-today": 1,
    "accounts-active": 4, "accounts-reducing": 1, "accounts-halted": 2, "accounts-stale": 3, "silent-bridges": 2,
    "open-drift-items": 3, "refused-ingests": 2,
}


def _ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


class _Maker:
    def __init__(self, tag: str):
        self.tag, self.version = tag, 0
        self.eurusd = Instrument.objects.get_or_create(symbol="EURUSD", defaults={"digits": 5})[0]

    def user(self, name: str):
        return get_user_model().objects.create_user(f"{name}-{self.tag}", password="not-used-0123456789")

    def signal(self, owner, *, status=Signal.Status.PENDING, expires_in=timedelta(minutes=15),
               created_at=None) -> Signal:
        producer, _ = Producer.objects.get_or_create(name=f"engine-{owner.username}", owner=owner,
                                                     defaults={"key_id": f"prd_{owner.username}"})
        self.version += 1
        created_at = created_at or _ago(minutes=1)
        return Signal.objects.create(owner=owner, producer=producer, instrument=self.eurusd, side="buy",
                                     time=created_at - timedelta(seconds=1), version=self.version,
                                     entry_price=D("1.08450"), stop_loss=D("1.08100"), status=status,
                                     expires_at=timezone.now() + expires_in, created_at=created_at,
                                     fingerprint="0" * 64)

    def decision(self, owner, decision, *, created_at) -> Approval:
        signal = self.signal(owner, status=decision, created_at=created_at - timedelta(minutes=1))
        return Approval.objects.create(signal=signal, user=owner, decision=decision, consent_version="1",
                                       created_at=created_at)

    def order(self, bridge, approval, status) -> Order:
        return Order.objects.create(
            bridge=bridge, owner=approval.user, signal=approval.signal, approval=approval,
            instrument=self.eurusd, side="buy", volume=D("0.10"), entry_price=D("1.08450"), status=status,
            reasons=["halted"] if status == Order.Status.DENIED else [],
            client_order_id=f"tp-{approval.pk.hex[:24]}", expires_at=approval.signal.expires_at,
            created_at=approval.created_at, updated_at=approval.created_at)

    def bridge(self, name, *, snapshot_ago=None, poll_ago=None, mode=None, reducing_until=None,
               enabled=True) -> Bridge:
        bridge = Bridge.objects.create(
            owner=self.user(name), name=f"{name}-{self.tag}", key_id=f"brg_{secrets.token_hex(12)}",
            account_ref="50123", enabled=enabled, created_at=_ago(days=1),
            last_snapshot_at=None if snapshot_ago is None else _ago(**snapshot_ago),
            last_poll_at=None if poll_ago is None else _ago(**poll_ago))
        if mode is not None:
            AccountState.objects.create(bridge=bridge, mode=mode, reducing_until=reducing_until)
        return bridge

    def run(self, bridge, kinds, *, status=ReconciliationRun.Status.DRIFT, minutes_ago) -> ReconciliationRun:
        at = _ago(minutes=minutes_ago)
        snapshot = AccountSnapshot.objects.create(bridge=bridge, time=at, currency="USD", balance=D("10000"),
                                                  equity=D("10000"), margin_free=D("10000"))
        run = ReconciliationRun.objects.create(bridge=bridge, snapshot=snapshot, time=at, status=status,
                                               created_at=at)
        ReconciliationItem.objects.bulk_create([
            ReconciliationItem(run=run, kind=kind, ticket=str(9000 + n), action="review")
            for n, kind in enumerate(kinds)])
        return run


def populate(tag: str = "a", *, time_machine) -> None:
    """One console's worth of rows, each figure of EXPECTED counting some of
    them and leaving others out. Call it with the clock at NOW."""
    make = _Maker(tag)
    owner = make.user("trader")

    # Signals: two pending, one pending past its expiry (reads expired), one decided.
    make.signal(owner)
    make.signal(owner)
    make.signal(owner, expires_in=-timedelta(minutes=1))
    make.signal(owner, status=Signal.Status.APPROVED)

    # Accounts. Active: a, c (its day's loss limit ended at midnight), e, f. Reducing: b. Halted: d, g.
    # Stale: e (old snapshot), f (none yet), g. Silent: f (never heard of), g. h is disabled: in nothing.
    a = make.bridge("a", snapshot_ago={"seconds": 10}, poll_ago={"seconds": 2})
    make.bridge("b", snapshot_ago={"seconds": 10}, poll_ago={"seconds": 2}, mode="reducing",
                reducing_until=TODAY + timedelta(days=1))
    make.bridge("c", snapshot_ago={"seconds": 10}, poll_ago={"seconds": 2}, mode="reducing", reducing_until=TODAY)
    d = make.bridge("d", snapshot_ago={"seconds": 10}, poll_ago={"seconds": 2}, mode="halted")
    make.bridge("e", snapshot_ago={"minutes": 10}, poll_ago={"minutes": 1})
    make.bridge("f")
    make.bridge("g", snapshot_ago={"minutes": 20}, poll_ago={"minutes": 20}, mode="halted")
    h = make.bridge("h", snapshot_ago={"minutes": 20}, mode="halted", enabled=False)

    # Decisions: three today (two approved, one rejected), one yesterday; their orders: two today, one denied.
    trader = a.owner
    approved = make.decision(trader, "approved", created_at=_ago(minutes=20))
    denied = make.decision(trader, "approved", created_at=_ago(minutes=10))
    make.decision(trader, "rejected", created_at=_ago(minutes=5))
    yesterday = make.decision(trader, "approved", created_at=TODAY - timedelta(hours=1))
    make.order(a, approved, Order.Status.PENDING)
    make.order(a, denied, Order.Status.DENIED)
    make.order(a, yesterday, Order.Status.DENIED)

    # Drift: a's newest comparison has two divergences (its older one's are superseded); d's newest
    # comparison one (the stale run after it compares nothing); h is disabled.
    make.run(a, ["volume_mismatch", "volume_mismatch"], minutes_ago=3)
    make.run(a, ["match", "price_mismatch", "missing_at_broker"], minutes_ago=2)
    make.run(d, ["unknown_at_broker"], minutes_ago=9)
    make.run(d, [], status=ReconciliationRun.Status.STALE, minutes_ago=1)
    make.run(h, ["late_fill"], minutes_ago=1)

    # Refused signed ingests: two in the last hour, one before it; a bridge's refusal is another thing.
    time_machine.move_to(NOW - timedelta(hours=2), tick=False)
    _refusal("prd_before")
    time_machine.move_to(NOW - timedelta(minutes=30), tick=False)
    _refusal("prd_one")
    _refusal("prd_two")
    append_entry(action="bridge.auth_denied", status="failure", actor_type="bridge",
                 meta={"reason": "bad_signature", "key_id": "brg_x"})
    time_machine.move_to(NOW, tick=False)


def _refusal(key_id):
    append_entry(action="signal.ingest_denied", status="failure", actor_type="producer",
                 meta={"reason": "bad_signature", "key_id": key_id})
