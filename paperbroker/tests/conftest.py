import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from paperbroker.bridge import PaperBridge, StateFile
from paperbroker.broker import Account, Costs, PaperBroker
from paperbroker.client import BridgeClient
from paperbroker.prices import Bar
from paperbroker.tests.fake_platform import FakePlatform

KEY_ID = "brg_paper_test"
SECRET = "paper-bridge-test-secret-0123456789"
T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def bar(minutes: float, open_: str, high: str, low: str, close: str) -> Bar:
    return Bar(at(minutes), Decimal(open_), Decimal(high), Decimal(low), Decimal(close))


class ScriptedPrices:
    """The bars a test gives, per instrument, oldest first."""

    def __init__(self, **series: list[Bar]):
        self.series = {instrument: list(bars) for instrument, bars in series.items()}

    def add(self, instrument: str, *bars: Bar) -> None:
        self.series.setdefault(instrument, []).extend(bars)

    def bars(self, instrument, since, limit):
        return [b for b in self.series.get(instrument, []) if b.time >= since][:limit]

    def last_bar(self, instrument):
        series = self.series.get(instrument)
        return series[-1] if series else None


def open_command(number: int = 1, **fields) -> dict:
    """An open command as the platform polls it."""
    return {"id": f"00000000-0000-4000-8000-{number:012d}", "type": "open",
            "client_order_id": f"tp-{number:024x}", "instrument": "EURUSD", "side": "buy", "volume": "0.10",
            "entry_price": "1.08450", "stop_loss": "1.08000", "take_profit": "1.09000", "expires_at": None,
            "position_ticket": None, "reason": None, "created_at": "2026-11-26T07:00:30Z", **fields}


def command(number: int, type_: str, **fields) -> dict:
    return {**{key: None for key in open_command()}, "id": f"00000000-0000-4000-8000-{number:012d}",
            "type": type_, "created_at": "2026-11-26T07:00:30Z", **fields}


def new_account(balance: str = "10000.00") -> Account:
    return Account(key_id=KEY_ID, currency="USD", balance=Decimal(balance))


@pytest.fixture
def prices():
    return ScriptedPrices(EURUSD=[bar(0, "1.08400", "1.08460", "1.08380", "1.08440"),
                                  bar(1, "1.08450", "1.08600", "1.08300", "1.08500")])


@pytest.fixture
def costs():
    return Costs(spread_points=Decimal(10), slippage_points=Decimal(2), commission_per_lot=Decimal(7))


@pytest.fixture
def broker(prices, costs):
    return PaperBroker(new_account(), prices, costs)


@pytest.fixture
def platform():
    with FakePlatform(key_id=KEY_ID, secret=SECRET) as running:
        yield running


@pytest.fixture
def make_bridge(platform, prices, costs, tmp_path):
    """A bridge over the state file in tmp_path, as a restarted process
    would make it: the account comes from the file when there is one."""
    def make(*, stop=None, control_path=None, clock=lambda: at(1.5), snapshot_interval=5.0):
        stop = stop or threading.Event()
        state_file = StateFile(tmp_path / "state.json")
        account = state_file.load() or new_account()
        client = BridgeClient(base_url=platform.url, key_id=KEY_ID, secret=SECRET, stop=stop,
                              first_backoff=0.01, max_backoff=0.05)
        return PaperBridge(broker=PaperBroker(account, prices, costs), client=client, state_file=state_file,
                           control_path=control_path or tmp_path / "control.jsonl",
                           snapshot_interval=snapshot_interval, stop=stop, clock=clock)
    return make
