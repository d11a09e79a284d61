"""Demo data for `python manage.py load_demo` (last, after the market data):
the demo trader's bridge, the broker account that `make run`'s paper bridge
(`manage.py paper_bridge`) runs, so that the trader's approvals become
orders, fills and positions.

The bridge's secret reaches that process through CREDENTIALS_FILE, never
through the terminal or a log: the file is git-ignored (beside the paper
bridge's state files) and readable by its owner only (mode 600), and holds
shell assignments that `make run` loads into the paper bridge's environment
alone. Secrets are never shown twice, so each run issues a fresh one, ends
the previous one and rewrites the file. Safe to run repeatedly: the trader
keeps the one bridge."""

import os
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from charting.models import EquityPoint
from execution import selectors, services

BRIDGE_NAME = "demo-paper"
ACCOUNT_REF = "PAPER-DEMO-1"
CURRENCY = "USD"
CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".paper_bridge" / "demo.env"
# Without the demo equity history (which the market data loads first).
DEFAULT_BALANCE = Decimal("10000.00")
CENT = Decimal("0.01")


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
