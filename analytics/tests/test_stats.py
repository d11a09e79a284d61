"""The figures against the reference (empyrical-reloaded) and hand-computed
cases: every return statistic on generated and real series, to 1e-9
relative; the trade statistics on trades worked out by hand."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import empyrical
import numpy as np
import pytest

from analytics import stats
from demo.market_data import MARKETS, hourly_bars, trading_hours

D = Decimal
PERIODS = 252
START = date(2025, 1, 1)


def figures(returns, *, risk_free=0.0):
    fold = stats.Returns(risk_free_daily=D(str(risk_free)) / PERIODS)
    for offset, value in enumerate(returns):
        fold.add(START + timedelta(days=offset), D(repr(value)), D(0))
    return stats.return_figures(fold, periods_per_year=PERIODS)


def reference(returns, *, risk_free=0.0):
    r = np.array(returns, dtype=float)
    daily_rf = risk_free / PERIODS
    return {
        "total_return": empyrical.cum_returns_final(r),
        "cagr": empyrical.annual_return(r, annualization=PERIODS),
        "volatility_annual": empyrical.annual_volatility(r, annualization=PERIODS),
        "sharpe": empyrical.sharpe_ratio(r, risk_free=daily_rf, annualization=PERIODS),
        "sortino": empyrical.sortino_ratio(r, required_return=daily_rf, annualization=PERIODS),
        "calmar": empyrical.calmar_ratio(r, annualization=PERIODS),
        "max_drawdown": empyrical.max_drawdown(r),
    }


def assert_matches_reference(returns, *, risk_free=0.0, expect_null=()):
    ours, theirs = figures(returns, risk_free=risk_free), reference(returns, risk_free=risk_free)
    for name, value in theirs.items():
        if name in expect_null:
            assert ours[name] is None, name
        else:
            assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-15), name
    # Not in empyrical: from its max drawdown and total return, none without a drawdown.
    if theirs["max_drawdown"] < 0:
        assert ours["recovery_factor"] == pytest.approx(theirs["total_return"] / abs(theirs["max_drawdown"]),
                                                        rel=1e-9)
    else:
        assert ours["recovery_factor"] is None


def random_walk(n, seed, *, drift=0.0004, vol=0.01):
    rng = np.random.default_rng(seed)
    return [round(float(x), 12) for x in rng.normal(drift, vol, n)]


def eurusd_daily_returns():
    """The demo's EURUSD bars (the same generator and seed `load_demo`
    ships), closed at each UTC day's last bar: the returns of holding it."""
    end = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    rng = np.random.default_rng(20261126)
    bars = hourly_bars(MARKETS[0], times=trading_hours(end, 1000), rng=rng, digits=5, after_close=None)
    closes = {}
    for bar in bars:
        closes[bar["time"].date()] = D(bar["close"])
    values = list(closes.values())
    return [float(today / yesterday - 1) for yesterday, today in zip(values, values[1:])]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_walk_matches_empyrical(seed):
    assert_matches_reference(random_walk(400, seed))


def test_random_walk_with_a_risk_free_rate_matches_empyrical():
    assert_matches_reference(random_walk(300, 7), risk_free=0.04)


def test_demo_eurusd_candles_match_empyrical():
    returns = eurusd_daily_returns()
    assert len(returns) >= 30
    assert_matches_reference(returns)


def test_a_series_without_a_losing_day_has_no_sortino_and_no_calmar():
    returns = [abs(value) + 0.0001 for value in random_walk(60, 11)]
    ours = figures(returns)
    # empyrical says infinity and NaN; an honest answer is "cannot say".
    assert ours["sortino"] is None and ours["calmar"] is None and ours["recovery_factor"] is None
    assert ours["max_drawdown"] == 0 and ours["max_drawdown_days"] == 0
    assert_matches_reference(returns, expect_null=("sortino", "calmar"))


def test_deposits_and_withdrawals_are_not_returns():
    """An account that earns the random walk's returns while money comes
    and goes: its daily returns, measured from the snapshots with the flows
    taken out, are the walk's."""
    walk = random_walk(90, 5)
    equity = balance = D("10000")
    measured = []
    for day, value in enumerate(walk):
        flow = D("5000") if day % 10 == 3 else D("-2000") if day % 10 == 7 else D(0)
        capital = equity + flow
        pnl = (capital * D(repr(value))).quantize(D("0.00000001"))
        realized = (pnl / 2).quantize(D("0.00000001"))  # half of it closed (fills), half still open
        base_equity, base_balance = equity, balance
        equity, balance = capital + pnl, balance + flow + realized
        day_pnl, day_flow, r = stats.account_day(base_equity=base_equity, base_balance=base_balance,
                                                 close_equity=equity, close_balance=balance, fills_money=realized)
        assert (day_pnl, day_flow) == (pnl, flow)
        measured.append(float(r))
    assert measured == pytest.approx(walk, rel=1e-9)
    assert_matches_reference(measured)
    ours = figures(measured)
    assert ours["total_return"] == pytest.approx(float(np.prod(1 + np.array(walk)) - 1), rel=1e-9)


def test_an_emptied_account_has_no_return_for_the_day():
    assert stats.account_day(base_equity=D(100), base_balance=D(100), close_equity=D(0), close_balance=D(0),
                             fills_money=D(0)) == (D(0), D(-100), None)


def test_max_drawdown_days_run_from_the_peak_to_the_recovery():
    # Peak on day 2, down 20 % by day 4, back above the peak on day 7.
    returns = [0.10, 0.10, -0.10, -0.1111111111, 0.05, 0.05, 0.20, -0.01]
    ours = figures(returns)
    assert ours["max_drawdown"] == pytest.approx(empyrical.max_drawdown(np.array(returns)), rel=1e-9)
    assert ours["max_drawdown_days"] == 5  # START+1 (peak) to START+6 (recovered)
    # Not recovered: to the last day.
    assert figures(returns[:6])["max_drawdown_days"] == 4


def test_under_thirty_days_the_annualized_figures_are_null():
    ours = figures(random_walk(29, 3))
    assert [name for name, value in ours.items() if value is None] == [
        "cagr", "volatility_annual", "sharpe", "sortino", "calmar", "recovery_factor"]
    assert ours["total_return"] is not None and ours["max_drawdown"] is not None


def test_folds_concatenate_and_survive_json():
    walk = random_walk(50, 9)
    whole = stats.Returns()
    first = stats.Returns()
    for offset, value in enumerate(walk):
        whole.add(START + timedelta(days=offset), D(repr(value)), D(1))
        if offset < 20:
            first.add(START + timedelta(days=offset), D(repr(value)), D(1))
    resumed = stats.Returns.from_json(first.to_json())
    for offset, value in enumerate(walk[20:], start=20):
        resumed.add(START + timedelta(days=offset), D(repr(value)), D(1))
    assert resumed == whole


# --- trades ---------------------------------------------------------------------------------------


def fold_trades(pnls, risks=None):
    folded = stats.Trades()
    for index, pnl in enumerate(pnls):
        risk = risks[index] if risks else None
        folded = folded.then(stats.Trades.one(pnl=D(pnl), r=(D(pnl) / D(risk)).quantize(stats.R_QUANTUM)
                                              if risk else None, hold_seconds=3600 * (index + 1)))
    return folded


def test_trade_statistics_by_hand():
    # 13 wins (6 of 30, 7 of 20), 2 breakeven, 15 losses (8 of 10, 7 of 15); the longest run of losses is
    # the four -10 after the first breakeven. Every trade risked 10.
    pnls = ["30", "-10", "-15", "-10", "20", "-15", "0", "-10", "-10", "-10", "-10", "30", "20", "-15", "0", "30",
            "20", "-10", "30", "20", "-15", "30", "20", "-10", "30", "20", "-15", "-10", "20", "-15"]
    risks = ["10"] * len(pnls)
    result = stats.trade_figures(fold_trades(pnls, risks))
    wins = [D(p) for p in pnls if D(p) > 0]
    losses = [D(p) for p in pnls if D(p) < 0]
    assert (result["trades"], result["wins"], result["losses"], result["breakeven"]) == (30, 13, 15, 2)
    assert result["gross_profit"] == sum(wins) == D(320)
    assert result["gross_loss"] == sum(losses) == D(-180)
    assert result["net_profit"] == D(140)
    assert result["win_rate"] == pytest.approx(13 / 28)
    assert result["profit_factor"] == pytest.approx(320 / 180)
    assert result["payoff_ratio"] == pytest.approx((320 / 13) / (180 / 15))
    assert result["expectancy"] == D("4.66666667")  # 140 / 30, to the 8 places money is stored with
    assert result["expectancy_r"] == pytest.approx(14 / 30)
    assert (result["largest_win"], result["largest_loss"]) == (D(30), D(-15))
    assert result["max_consecutive_losses"] == 4  # -10 -10 -10 -10 after the breakeven
    assert result["avg_hold_seconds"] == 3600 * 31 / 2


def test_loss_streaks_join_across_days():
    day_one = fold_trades(["5", "-1", "-2"])
    day_two = fold_trades(["-3", "-4", "6", "-1"])
    day_three = fold_trades(["-1"])
    joined = day_one.then(day_two).then(day_three)
    assert joined.max_losses == 4
    in_one = fold_trades(["5", "-1", "-2", "-3", "-4", "6", "-1", "-1"])
    assert replace(joined, hold_seconds=0) == replace(in_one, hold_seconds=0)
    assert stats.Trades.from_json(joined.to_json()) == joined


@pytest.mark.parametrize("pnls", [[], ["-1"], ["-1", "-2"], ["3"], ["-1", "2", "-3", "-4", "0", "-5"],
                                  ["5", "-1", "-2", "-3", "-4", "6", "-1", "-1"], ["-2", "-2", "4", "-1", "-1", "-1"]])
def test_loss_streaks_are_the_folds_order_figures(pnls):
    folded = fold_trades(pnls)
    counted = stats.loss_streaks([Decimal(pnl) < 0 for pnl in pnls])
    for name in ("trades", "lead_losses", "trail_losses", "max_losses"):
        assert getattr(counted, name) == getattr(folded, name), name


def test_under_twenty_trades_the_ratios_are_null_not_sentinels():
    result = stats.trade_figures(fold_trades(["10", "-5", "7"], ["5", "5", "5"]))
    assert {name for name, value in result.items() if value is None} == {
        "win_rate", "profit_factor", "payoff_ratio", "expectancy", "expectancy_r"}
    assert result["trades"] == 3 and result["net_profit"] == D(12)


def test_no_losing_trade_means_no_profit_factor_and_no_largest_loss():
    result = stats.trade_figures(fold_trades(["10"] * 25))
    assert result["profit_factor"] is None and result["payoff_ratio"] is None and result["largest_loss"] is None
    assert result["win_rate"] == 1.0 and result["expectancy_r"] is None  # no initial risk known


def test_no_trades_at_all():
    result = stats.trade_figures(stats.Trades())
    assert result["trades"] == 0 and result["avg_hold_seconds"] is None and result["max_consecutive_losses"] == 0
