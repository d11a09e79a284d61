"""A bridge's trading history made the way production makes it: every row
through the services (the operator creates the bridge, the bridge reports
its symbols and account, the owner approves a signal, the bridge polls,
acknowledges and reports fills, the owner closes the position)."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from approvals import services as approval_services
from charting import services as charting_services
from execution import services
from execution.models import AccountSnapshot, Bridge, Command, Fill, Order, Position, Symbol
from signals import services as signal_services
from signals.models import Instrument, Signal

D = Decimal
EURUSD_SPECS = {"instrument": "EURUSD", "tick_size": D("0.00001"), "tick_value": D("1"), "volume_min": D("0.01"),
                "volume_step": D("0.01"), "volume_max": D("100")}


@dataclass
class History:
    bridge: Bridge
    secret: str
    signal: Signal
    order: Order
    closed: Position  # the approved signal's position, closed at the owner's request
    external: Position  # opened at the broker by hand: no signal, still open


def _fill(fill_id, *, entry, position_ticket, client_order_id=None, side="buy", volume="0.10",
          price="1.08450", profit="0"):
    return {"fill_id": fill_id, "client_order_id": client_order_id, "ticket": f"o-{fill_id}",
            "position_ticket": position_ticket, "instrument": "EURUSD", "side": side, "entry": entry,
            "volume": D(str(volume)), "price": D(price), "time": timezone.now(), "commission": D("-0.70"),
            "swap": D("0"), "profit": D(profit)}


def _candles_before(moment, count=60):
    """H1 bars up to `moment`, so the signal's chart has something to draw."""
    start = moment.replace(minute=0, second=0, microsecond=0) - timedelta(hours=count)
    rows = []
    for i in range(count):
        price = D("1.08000") + D("0.00010") * i
        rows.append({"time": start + timedelta(hours=i), "open": price, "close": price + D("0.00005"),
                     "high": price + D("0.00020"), "low": price - D("0.00020"), "volume": D(100 + i)})
    return rows


def _ack(bridge, command_type, *, status, broker_ticket):
    command = next(c for c in services.poll_commands(bridge=bridge) if c.type == command_type)
    return services.acknowledge_command(bridge=bridge, command_id=command.pk, status=status,
                                        broker_ticket=broker_ticket)


def _at_broker(ticket, *, profit, client_order_id=None, side="buy", volume="0.10", open_price="1.08450"):
    """An open position as the bridge reports it in an account snapshot."""
    return {"ticket": ticket, "client_order_id": client_order_id, "instrument": "EURUSD", "side": side,
            "volume": str(volume), "open_price": open_price, "open_time": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stop_loss": None, "take_profit": None, "profit": profit}


def _equity(bridge, equity, positions=()):
    services.record_account_snapshot(bridge=bridge, time=timezone.now(), currency="USD", balance=D("10000"),
                                     equity=D(equity), margin_free=D("9500"), positions=list(positions))


def trade(owner, *, name="desk-mt5", account_ref="50123") -> History:
    """`owner` (who must have no enabled bridge yet) gets a bridge that trades
    one approved signal from open to close and adopts one external position."""
    eurusd = Instrument.objects.get(symbol="EURUSD")
    bridge, secret = services.create_bridge(name=name, owner=owner, account_ref=account_ref)
    services.upsert_symbols(bridge=bridge, symbols=[EURUSD_SPECS])
    _equity(bridge, "10000")

    producer, _ = signal_services.create_producer(name=f"{name}-engine", owner=owner)
    now = timezone.now()
    charting_services.upsert_candles(instrument=eurusd, timeframe="H1", candles=_candles_before(now))
    signal, _ = signal_services.ingest_signal(producer=producer, instrument=eurusd, side="buy", time=now, version=1,
                                              entry_price=D("1.08450"), stop_loss=D("1.08100"),
                                              take_profit=D("1.09000"))
    approval = approval_services.decide_signal(user=owner, signal_id=str(signal.pk), decision="approved",
                                               consent_version="1")
    order = approval.order

    _ack(bridge, Command.Type.OPEN, status="accepted", broker_ticket="7001")
    services.record_fills(bridge=bridge, fills=[
        _fill("d-1", entry="in", position_ticket="9001", client_order_id=order.client_order_id, volume=order.volume),
        _fill("d-2", entry="in", position_ticket="9002", side="sell", volume="0.50", price="1.08500"),
    ])
    external = _at_broker("9002", profit="-3.00", side="sell", volume="0.50", open_price="1.08500")
    _equity(bridge, "10012.50", [_at_broker("9001", profit="12.50", client_order_id=order.client_order_id,
                                            volume=order.volume), external])
    closed = Position.objects.get(bridge=bridge, ticket="9001")
    services.request_position_close(user=owner, position_id=closed.pk)
    _ack(bridge, Command.Type.CLOSE, status="executed", broker_ticket="7002")
    services.record_fills(bridge=bridge, fills=[
        _fill("d-3", entry="out", position_ticket="9001", client_order_id=order.client_order_id, side="sell",
              volume=order.volume, price="1.08600", profit="15.00"),
    ])
    _equity(bridge, "10015.00", [external])

    for model in (Symbol, AccountSnapshot, Fill):
        assert model.objects.filter(bridge=bridge).exists()
    order.refresh_from_db()
    closed.refresh_from_db()
    return History(bridge=bridge, secret=secret, signal=signal, order=order, closed=closed,
                   external=Position.objects.get(bridge=bridge, ticket="9002"))
