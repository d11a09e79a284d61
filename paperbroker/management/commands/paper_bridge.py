import logging
import os
import re
import signal
import threading
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from paperbroker.bridge import PaperBridge, StateFile
from paperbroker.broker import CENT, SYMBOLS, Account, Costs, PaperBroker
from paperbroker.candles import StoredCandles
from paperbroker.client import BridgeClient, Stopped, Unauthorized
from paperbroker.logs import log
from paperbroker.prices import ConstantPrices, RandomWalkPrices

STATE_DIRECTORY = Path(settings.BASE_DIR) / ".paper_bridge"


def _non_negative_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0:
        raise ValueError(text)
    return value


def _currency(text: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError(text)
    return text


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = ("Run the paper bridge: a simulated broker account that speaks the bridge API over HTTP with its "
            "own key, fills the platform's orders against the stored candles and reports deals and account "
            "snapshots. Stops cleanly on SIGTERM or Ctrl-C after the current step.")

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the platform (default: %(default)s)")
        parser.add_argument("--key-id", required=True, help="the bridge's key id (X-Bridge-Id), from create_bridge")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--secret-env", default="PAPER_BRIDGE_SECRET", metavar="NAME",
                            help="environment variable holding the bridge's secret (default: %(default)s)")
        secret.add_argument("--secret", help="the secret itself: visible in the process list and the shell "
                                             "history, prefer --secret-env")
        parser.add_argument("--state-file", type=Path,
                            help="the broker's state, JSON (default: .paper_bridge/KEY_ID.json in the project)")
        parser.add_argument("--control-file", type=Path,
                            help="JSON lines of instructions: reject_next, partial_next, close, open, price, "
                                 "correct (their forms: paperbroker/bridge.py) "
                                 "(default: .paper_bridge/KEY_ID.control.jsonl in the project)")
        parser.add_argument("--interval", type=_positive_seconds, default=1.0,
                            help="seconds between loops (default: %(default)s)")
        parser.add_argument("--snapshot-interval", type=_positive_seconds, default=5.0,
                            help="seconds between account snapshots (default: %(default)s)")
        parser.add_argument("--spread", type=_non_negative_decimal, default=Decimal(0),
                            help="in points, i.e. ticks of the instrument (10 = 0.00010 EURUSD): a buy pays "
                                 "bid + spread (default: %(default)s)")
        parser.add_argument("--slippage", type=_non_negative_decimal, default=Decimal(0),
                            help="in points, against the trader on every market deal (default: %(default)s)")
        parser.add_argument("--commission-per-lot", type=_non_negative_decimal, default=Decimal(0),
                            help="account currency per lot on every deal, in and out (default: %(default)s)")
        parser.add_argument("--balance", type=_non_negative_decimal, default=Decimal(10000),
                            help="starting balance of a new account (default: %(default)s); a saved "
                                 "state keeps its own")
        parser.add_argument("--currency", type=_currency, default="USD",
                            help="ISO 4217 label of a new account (default: %(default)s); the symbol specs are "
                                 "in US dollars")
        parser.add_argument("--price-source", choices=["candles", "constant", "random-walk"], default="candles",
                            help="candles: the stored candles, finest timeframe (default); constant and "
                                 "random-walk: synthetic minute bars from reference prices, for tests and demos")
        parser.add_argument("--once", action="store_true", help="one loop, then exit")

    def handle(self, *args, **options):
        key_id = options["key_id"]
        secret = options["secret"] or os.environ.get(options["secret_env"])
        if not secret:
            raise CommandError(f"Set the environment variable {options['secret_env']} to the bridge's secret.")
        file_stem = re.sub(r"[^A-Za-z0-9_.-]", "_", key_id)
        state_file = StateFile(options["state_file"] or STATE_DIRECTORY / f"{file_stem}.json")
        account = self.load_account(state_file, key_id=key_id, balance=options["balance"],
                                    currency=options["currency"])
        reference_prices = {spec.instrument: spec.reference_price for spec in SYMBOLS.values()}
        prices = {
            "candles": StoredCandles,
            "constant": lambda: ConstantPrices(reference_prices),
            "random-walk": lambda: RandomWalkPrices(
                reference_prices, tick_sizes={spec.instrument: spec.tick_size for spec in SYMBOLS.values()}),
        }[options["price_source"]]()
        costs = Costs(spread_points=options["spread"], slippage_points=options["slippage"],
                      commission_per_lot=options["commission_per_lot"])
        stop = threading.Event()
        client = BridgeClient(base_url=options["base_url"], key_id=key_id, secret=secret, stop=stop)
        bridge = PaperBridge(broker=PaperBroker(account, prices, costs), client=client, state_file=state_file,
                             control_path=options["control_file"] or STATE_DIRECTORY / f"{file_stem}.control.jsonl",
                             snapshot_interval=options["snapshot_interval"], stop=stop)
        log("bridge.start", key_id=key_id, base_url=options["base_url"], state_file=state_file.path,
            control_file=bridge.control_path, prices=options["price_source"], balance=account.balance,
            positions=len(account.positions), unsent=len(account.outbox))

        previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            bridge.run(interval=options["interval"], once=options["once"],
                       before_step=close_old_connections if options["price_source"] == "candles" else None)
        except Unauthorized as error:
            log("bridge.unauthorized", level=logging.ERROR, error=error)
            raise CommandError(str(error)) from None
        except Stopped:
            pass
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        log("bridge.stopped", key_id=key_id, unsent=len(account.outbox))

    @staticmethod
    def load_account(state_file: StateFile, *, key_id: str, balance: Decimal, currency: str) -> Account:
        try:
            account = state_file.load()
        except (ValueError, KeyError, TypeError) as error:
            raise CommandError(f"The state file {state_file.path} is damaged ({type(error).__name__}); "
                               f"move it away to start a new account.") from None
        if account is None:
            return Account(key_id=key_id, currency=currency, balance=balance.quantize(CENT, ROUND_HALF_UP))
        if account.key_id != key_id:
            raise CommandError(f"The state file {state_file.path} belongs to bridge {account.key_id}.")
        return account
