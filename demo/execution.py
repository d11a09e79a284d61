"""Demo data for `python manage.py load_demo` (after the market data, before
the demo decisions): the demo trader's bridge, the broker
account that `make run`'s paper bridge (`manage.py paper_bridge`) runs, with
the specs and snapshot it reports on starting, so that the trader's approvals become
orders, fills and positions; and the account's history before that, so the
performance analytics and their charts have something to show.

The history follows the last HISTORY_DAYS trading days of the demo equity
curve (demo/market_data.py): for each, one position the broker opened and
closed for the day's change of balance, and the day's closing snapshot,
reported through execution's services as a bridge reports them (so the
positions, the rollups, the audit log and the event stream all have them).
The positions were opened at the broker, not from signals: they have no
initial risk, so the R-multiples chart waits for the walk-through's first
closed position.

The bridge's secret reaches the paper bridge through CREDENTIALS_FILE, never
through the terminal or a log: the file is git-ignored (beside the paper
bridge's state files) and readable by its owner only (mode 600), and holds
shell assignments that `make run` loads into the paper bridge's environment
alone. Secrets are never shown twice, so each run issues a fresh one, ends
the previous one and rewrites the file. Safe to run repeatedly: the trader
keeps the one bridge and its history."""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from charting.models import EquityPoint
from execution import selectors, services
from execution.models import AccountSnapshot, Fill
from paperbroker.broker import SYMBOLS, VOLUME_MAX, VOLUME_MIN, VOLUME_STEP

BRIDGE_NAME = "demo-paper"
ACCOUNT_REF = "PAPER-DEMO-1"
CURRENCY = "USD"
CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".paper_bridge" / "demo.env"
# Without the demo equity history (which the market data loads first).
DEFAULT_BALANCE = Decimal("10000.00")
CENT = Decimal("0.01")
# The history's positions: what they traded, in turn, and their size. The
# prices move by what each day's profit needs at that size, from the paper
# broker's reference prices.
HISTORY_INSTRUMENTS = ("EURUSD", "EURUSD", "XAUUSD")
HISTORY_VOLUME = Decimal("1.00")
CLOSE_HOUR = 21  # the demo equity curve's daily close (UTC), where balance and equity meet
# A quarter of trading days: enough for the figures that need 30 days and
# 20 trades. Each day is two reports (fills, snapshot), each a transaction
# with its audit entries, events and rollups: the whole year of the equity
# curve would add half a minute to the first `make run`.
HISTORY_DAYS = 65


def load(*, stdout, users):
    trader = users["trader"]
    bridge = selectors.bridge_for_user(user=trader)
    if bridge is None:
        bridge, secret = services.create_bridge(name=BRIDGE_NAME, owner=trader, account_ref=ACCOUNT_REF,
                                                currency=CURRENCY)
    else:
        secret = services.rotate_bridge_secret(bridge=bridge, grace_seconds=0)
    write_credentials(CREDENTIALS_FILE, key_id=bridge.key_id, secret=secret, balance=_starting_balance(trader))
    stdout.write(f"Demo bridge {bridge.name!r} (account {bridge.account_ref} of {trader.username}, "
                 f"{bridge.currency}): key id {bridge.key_id}")
    stdout.write(f"  its secret is in {CREDENTIALS_FILE} (mode 600), for the paper bridge `make run` starts")
    days = _history(bridge, trader)
    if days:
        stdout.write(f"  its history: {days - 1} closed positions and {days} daily snapshots, as the equity curve")
        # What the paper bridge reports first when it starts, reported now: the demo's
        # approvals (loaded next) then become orders it can take, not denials.
        services.upsert_symbols(bridge=bridge, symbols=[
            {"instrument": spec.instrument, "tick_size": spec.tick_size, "tick_value": spec.tick_value,
             "volume_min": VOLUME_MIN, "volume_step": VOLUME_STEP, "volume_max": VOLUME_MAX}
            for spec in SYMBOLS.values()])
        balance = _starting_balance(trader)
        services.record_account_snapshot(bridge=bridge, time=timezone.now(), currency=bridge.currency,
                                         balance=balance, equity=balance, margin_free=balance, positions=[])


def _history(bridge, trader) -> int:
    """The account's last HISTORY_DAYS daily closes of the trader's equity
    curve (module docstring), day after day as a bridge reports them (the
    newest day last keeps the analytics rollups' folding incremental), once:
    a bridge that has fills or snapshots keeps its own. Returns the days."""
    if Fill.objects.filter(bridge=bridge).exists() or AccountSnapshot.objects.filter(bridge=bridge).exists():
        return 0
    closes = list(EquityPoint.objects.filter(owner=trader, time__hour=CLOSE_HOUR).order_by("-time")
                  .values_list("time", "balance")[:HISTORY_DAYS])[::-1]
    prices = {symbol: SYMBOLS[symbol].reference_price for symbol in HISTORY_INSTRUMENTS}
    for day, (closed_at, balance) in enumerate(closes):
        if day:
            symbol = HISTORY_INSTRUMENTS[day % len(HISTORY_INSTRUMENTS)]
            opened_price = prices[symbol]
            prices[symbol] = _closed_position(bridge, day, symbol=symbol, side=("buy", "sell")[day % 2],
                                              opened_price=opened_price, closed_at=closed_at,
                                              profit=balance - closes[day - 1][1])
        services.record_account_snapshot(bridge=bridge, time=closed_at, currency=bridge.currency, balance=balance,
                                         equity=balance, margin_free=balance, positions=[])
    return len(closes)


def _closed_position(bridge, day: int, *, symbol: str, side: str, opened_price: Decimal, closed_at, profit: Decimal):
    """A position of HISTORY_VOLUME opened at `opened_price` twelve hours
    before `closed_at` and closed an hour before it for `profit`, at the
    price that profit needs; returns that price."""
    spec = SYMBOLS[symbol]
    move = profit / (HISTORY_VOLUME * spec.value_per_price_unit)
    closed_price = spec.on_tick(opened_price + (move if side == "buy" else -move))
    closing_side = "sell" if side == "buy" else "buy"
    services.record_fills(bridge=bridge, fills=[
        {"fill_id": f"demo-{day}-{entry}", "client_order_id": None, "ticket": f"demo-{day}-{entry}",
         "position_ticket": f"demo-{day}", "instrument": symbol, "side": fill_side, "entry": entry,
         "volume": HISTORY_VOLUME, "price": price, "time": time, "commission": Decimal(0), "swap": Decimal(0),
         "profit": money}
        for entry, fill_side, price, time, money in (
            ("in", side, opened_price, closed_at - timedelta(hours=12), Decimal(0)),
            ("out", closing_side, closed_price, closed_at - timedelta(hours=1), profit))])
    return closed_price


def _starting_balance(trader) -> Decimal:
    """The balance a new paper account starts with: where the trader's equity
    curve ends, so its snapshots continue the curve (a paper account that
    already has a state file keeps its own balance)."""
    last = EquityPoint.objects.filter(owner=trader).order_by("-time").first()
    return DEFAULT_BALANCE if last is None else last.balance.quantize(CENT)


def write_credentials(path: Path, *, key_id: str, secret: str, balance: Decimal) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(descriptor, 0o600)  # a file left from before keeps its mode otherwise
        file.write("# The demo trader's paper bridge, for `make run`; rewritten by every load_demo.\n"
                   f"PAPER_BRIDGE_KEY_ID={key_id}\n"
                   f"PAPER_BRIDGE_SECRET={secret}\n"
                   f"PAPER_BRIDGE_BALANCE={balance}\n")
