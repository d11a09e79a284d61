"""The checks before a new order, each alone and together: pure functions
of the account's facts, the policy and the time."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from risk import checks, market_hours
from risk.checks import Close, OrderFacts
from risk.modes import Mode
from risk.policy import BUILT_IN
from risk.sizing import SymbolSpec

EURUSD = SymbolSpec(tick_size=D("0.00001"), tick_value=D("1"), volume_min=D("0.01"), volume_step=D("0.01"),
                    volume_max=D("100"))
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # a Tuesday: the FX market is open
SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LOSS = D("-25.00")
# A tradable order: a stop, specs, 0.28 lots of fresh equity, nothing in the way.
TRADABLE = OrderFacts(stop_loss=D("1.08100"), spec=EURUSD, volume=D("0.28"), equity=D("10000"),
                      equity_as_of=NOW - timedelta(seconds=10), stale_after=timedelta(seconds=300), open_positions=0,
                      recent_closes=(), mode=Mode.ACTIVE, reducing_until=None, paused=False,
                      market_hours=market_hours.FX)
THREE_LOSSES = (Close(NOW - timedelta(minutes=10), LOSS), Close(NOW - timedelta(hours=1), LOSS),
                Close(NOW - timedelta(hours=2), LOSS))


def test_a_tradable_order_passes_every_check():
    assert checks.pre_trade_checks(TRADABLE, BUILT_IN, NOW) == []


@pytest.mark.parametrize(("changes", "reason"), [
    ({"stop_loss": None, "volume": None}, checks.NO_STOP_LOSS),
    ({"spec": None, "volume": None}, checks.NO_SYMBOL_SPECS),
    ({"volume": D("0")}, checks.VOLUME_BELOW_MINIMUM),
    ({"equity_as_of": NOW - timedelta(seconds=301)}, checks.ACCOUNT_STALE),
    ({"equity": D("99.99")}, checks.EQUITY_FLOOR),
    ({"open_positions": 5}, checks.MAX_OPEN_POSITIONS),
    ({"mode": Mode.REDUCING, "reducing_until": NOW + timedelta(hours=17)}, checks.DAILY_LOSS),
    ({"recent_closes": THREE_LOSSES}, checks.COOLDOWN),
    ({"paused": True}, checks.PAUSED),
    ({"mode": Mode.HALTED}, checks.HALTED),
])
def test_each_check_alone_names_its_reason(changes, reason):
    assert checks.pre_trade_checks(replace(TRADABLE, **changes), BUILT_IN, NOW) == [reason]


def test_a_closed_market_alone_names_its_reason():
    facts = replace(TRADABLE, equity_as_of=SATURDAY - timedelta(seconds=10))
    assert checks.pre_trade_checks(facts, BUILT_IN, SATURDAY) == [checks.MARKET_CLOSED]
    assert checks.pre_trade_checks(replace(facts, market_hours=market_hours.ALWAYS), BUILT_IN, SATURDAY) == []


def test_a_denial_names_every_reason_in_a_fixed_order():
    everything = replace(TRADABLE, stop_loss=None, spec=None, volume=None, equity=D("50"),
                         equity_as_of=SATURDAY - timedelta(hours=1), open_positions=7,
                         recent_closes=(Close(SATURDAY - timedelta(minutes=1), LOSS),) * 3, mode=Mode.HALTED,
                         paused=True)
    assert checks.pre_trade_checks(everything, BUILT_IN, SATURDAY) == [
        "no-stop-loss", "no-symbol-specs", "account-stale", "equity-floor", "max-open-positions", "cooldown",
        "market-closed", "paused", "halted"]
    reducing = replace(TRADABLE, volume=D("0.001"), mode=Mode.REDUCING, reducing_until=NOW + timedelta(hours=1),
                       open_positions=5)
    assert checks.pre_trade_checks(reducing, BUILT_IN, NOW) == [
        "volume-below-minimum", "max-open-positions", "daily-loss"]


def test_equity_at_the_floor_and_positions_below_the_limit_pass():
    facts = replace(TRADABLE, equity=D("100"), open_positions=4)
    assert checks.pre_trade_checks(facts, BUILT_IN, NOW) == []
    tighter = replace(BUILT_IN, min_equity=D("10000.01"), max_open_positions=4)
    assert checks.pre_trade_checks(facts, tighter, NOW) == ["equity-floor", "max-open-positions"]


def test_the_stop_loss_is_required_only_when_the_policy_says_so():
    facts = replace(TRADABLE, stop_loss=None, volume=EURUSD.volume_min)
    assert checks.pre_trade_checks(facts, BUILT_IN, NOW) == ["no-stop-loss"]
    assert checks.pre_trade_checks(facts, replace(BUILT_IN, require_stop_loss=False), NOW) == []


def test_the_daily_loss_limit_ends_at_its_midnight():
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    facts = replace(TRADABLE, mode=Mode.REDUCING, reducing_until=midnight,
                    equity_as_of=midnight - timedelta(seconds=30))
    assert checks.pre_trade_checks(facts, BUILT_IN, midnight - timedelta(seconds=1)) == ["daily-loss"]
    assert checks.pre_trade_checks(facts, BUILT_IN, midnight) == []


@pytest.mark.parametrize(("closes", "now", "cooling"), [
    (THREE_LOSSES, NOW, True),
    # 60 minutes after the last losing close, it ends
    (THREE_LOSSES, THREE_LOSSES[0].time + timedelta(minutes=60), False),
    (THREE_LOSSES, THREE_LOSSES[0].time + timedelta(minutes=59, seconds=59), True),
    # two losses are not three
    (THREE_LOSSES[:2], NOW, False),
    # a win or a break-even close among the last three ends the run
    ((THREE_LOSSES[0], Close(NOW - timedelta(minutes=30), D("5")), *THREE_LOSSES[1:]), NOW, False),
    ((*THREE_LOSSES[:2], Close(NOW - timedelta(hours=3), D("0"))), NOW, False),
    # older losses before a win do not count
    ((Close(NOW - timedelta(minutes=5), D("1")), *THREE_LOSSES), NOW, False),
])
def test_cooldown_after_losing_closes_in_a_row(closes, now, cooling):
    facts = replace(TRADABLE, recent_closes=closes, equity_as_of=now - timedelta(seconds=1))
    assert checks.pre_trade_checks(facts, BUILT_IN, now) == (["cooldown"] if cooling else [])


def test_the_cooldown_follows_the_policy():
    facts = replace(TRADABLE, recent_closes=THREE_LOSSES[:2])
    assert checks.pre_trade_checks(facts, replace(BUILT_IN, cooldown_after_losses=2), NOW) == ["cooldown"]
    assert checks.pre_trade_checks(facts, replace(BUILT_IN, cooldown_after_losses=2, cooldown_minutes=5), NOW) == []


@pytest.mark.parametrize(("age", "stale"), [(300, False), (301, True)])
def test_the_account_is_stale_once_its_newest_snapshot_is_older_than_the_limit(age, stale):
    facts = replace(TRADABLE, equity_as_of=NOW - timedelta(seconds=age))
    assert checks.pre_trade_checks(facts, BUILT_IN, NOW) == (["account-stale"] if stale else [])


def test_no_snapshot_yet_is_stale_and_nothing_else():
    facts = replace(TRADABLE, equity=None, equity_as_of=None, volume=None)
    assert checks.pre_trade_checks(facts, BUILT_IN, NOW) == ["account-stale"]
