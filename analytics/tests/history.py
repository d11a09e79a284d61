"""Trading histories made the way production makes them, through
execution's services (fills, snapshots; for a strategy, signals, approvals
and orders): the rollups are then whatever the events made of them."""

import itertools
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.utils import timezone

from approvals import services as approval_services
from execution import services
from execution.models import Command
from signals import services as signal_services
from signals.models import Instrument

D = Decimal
SPECS = [
    {"instrument": "EURUSD", "tick_size": D("0.00001"), "tick_value": D("1"), "volume_min": D("0.01"),
     "volume_step": D("0.01"), "volume_max": D("100")},
    {"instrument": "XAUUSD", "tick_size": D("0.01"), "tick_value": D("1"), "volume_min": D("0.01"),
     "volume_step": D("0.01"), "volume_max": D("50")},
]
PRICES = {"EURUSD": ("1.08450", "1.08100"), "XAUUSD": ("2395.50", "2380.00")}  # entry, stop
_ids = itertools.count(1)


def day_start(days_ago: int) -> datetime:
    """00:00 UTC `days_ago` days before today."""
    today = timezone.now().astimezone(dt_timezone.utc).date()
    return datetime.combine(today - timedelta(days=days_ago), time.min, tzinfo=dt_timezone.utc)


def open_account(owner, *, name: str | None = None):
    bridge, _ = services.create_bridge(name=name or f"{owner.username}-mt5", owner=owner,
                                       account_ref=f"acct-{next(_ids)}")
    services.upsert_symbols(bridge=bridge, symbols=SPECS)
    return bridge


def snapshot(bridge, moment: datetime, *, equity, balance=None):
    services.record_account_snapshot(bridge=bridge, time=moment, currency="USD", balance=D(balance or equity),
                                     equity=D(equity), margin_free=D(equity), positions=[])


def _fill(*, entry, ticket, moment, instrument, side, profit=D(0), commission=D(0), client_order_id=None,
          volume=D("0.10")):
    price = PRICES[instrument][0]
    return {"fill_id": f"f-{next(_ids)}", "client_order_id": client_order_id, "ticket": f"o-{next(_ids)}",
            "position_ticket": ticket, "instrument": instrument, "side": side, "entry": entry, "volume": volume,
            "price": D(price), "time": moment, "commission": commission, "swap": D(0), "profit": profit}


def closed_trade(bridge, *, opened: datetime, closed: datetime, profit, instrument="EURUSD", commission="0",
                 client_order_id=None, volume=D("0.10")):
    """A position opened and closed by the broker, both fills in one call:
    its realized P&L is `profit` + `commission` (half charged on each fill)."""
    ticket = f"t-{next(_ids)}"
    half = D(commission) / 2
    services.record_fills(bridge=bridge, fills=[
        _fill(entry="in", ticket=ticket, moment=opened, instrument=instrument, side="buy", commission=half,
              client_order_id=client_order_id, volume=volume),
        _fill(entry="out", ticket=ticket, moment=closed, instrument=instrument, side="sell", profit=D(profit),
              commission=half, client_order_id=client_order_id, volume=volume),
    ])
    return ticket


def publish(producer, *, instrument="EURUSD"):
    """A signal of `producer`, now: the owner's and each subscriber's copy."""
    entry, stop = PRICES[instrument]
    signal, _ = signal_services.ingest_signal(producer=producer, instrument=Instrument.objects.get(symbol=instrument),
                                              side="buy", time=timezone.now(), version=next(_ids),
                                              entry_price=D(entry), stop_loss=D(stop))
    return signal


def public_strategy(owner, subscribers):
    """A public producer of `owner`, named "trend-engine", and an account
    for each of `subscribers`, subscribed to it, with a fresh snapshot
    (orders are sized against it). Returns the producer and the accounts."""
    producer, _ = signal_services.create_producer(name="trend-engine", owner=owner)
    signal_services.update_producer(producer=producer, public=True)
    accounts = []
    for user in subscribers:
        signal_services.subscribe(user=user, producer=producer)
        accounts.append(open_account(user))
        snapshot(accounts[-1], timezone.now(), equity="10000")
    return producer, accounts


def strategy_trade(bridge, signal, *, opened: datetime, closed: datetime, profit):
    """The bridge's owner approves their copy of `signal`; the order is
    filled at `opened` and closed at `closed` for `profit`. Returns the order."""
    copy = signal if signal.owner_id == bridge.owner_id else signal.copies.get(owner_id=bridge.owner_id)
    approval = approval_services.decide_signal(user=bridge.owner, signal_id=str(copy.pk), decision="approved",
                                               consent_version="1")
    order = approval.order
    command = next(c for c in services.poll_commands(bridge=bridge) if c.type == Command.Type.OPEN)
    services.acknowledge_command(bridge=bridge, command_id=command.pk, status="accepted",
                                 broker_ticket=f"b-{next(_ids)}")
    closed_trade(bridge, opened=opened, closed=closed, profit=profit, instrument=signal.instrument.symbol,
                 client_order_id=order.client_order_id, volume=order.volume)
    order.refresh_from_db()
    return order
