"""The analytics endpoints over histories made through execution's
services: every field of the summary against empyrical and hand-computed
figures, the daily and per-instrument answers, who may see what, and
recompute_analytics agreeing with the rollups the events kept."""

from datetime import timedelta
from decimal import Decimal

import empyrical
import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from analytics.models import DailyRollup
from analytics.tests import history
from analytics.tests.history import D, _fill, closed_trade, day_start, open_account, snapshot
from charting import caches
from execution import services
from execution.models import Position
from tests.fixtures import bearer

DAYS = 44
# One position closed a day, at noon: profit before a 1.00 commission.
PROFITS = [D(value) for value in ("40", "-25", "0", "-30", "55", "-12", "-18", "-20", "33", "1", "70", "-45", "25",
                                  "-5", "12", "1", "-35", "60", "-22", "18", "30", "-8", "-9", "-10", "-11", "42",
                                  "15", "-16", "21", "-3", "28", "-40", "36", "1", "-14", "19", "24", "-27", "31",
                                  "-6", "13", "-17", "26", "9")]
COMMISSION = D("1")
DEPOSITS = {10: D("2000"), 30: D("-1500")}  # by day index: a deposit, a withdrawal


@pytest.fixture
def account(alice):
    """44 days of alice's account: one closed position a day (commission
    included, one exactly breakeven), a snapshot each evening, a deposit on
    day 10 and a withdrawal on day 30 (balance changes no fill explains)."""
    bridge = open_account(alice)
    snapshot(bridge, day_start(DAYS + 1) + timedelta(hours=20), equity="10000")
    equity = D("10000")
    returns = []
    for index, profit in enumerate(PROFITS):
        day = day_start(DAYS - index)
        pnl = profit - COMMISSION if profit != 1 else D(0)
        closed_trade(bridge, opened=day + timedelta(hours=9), closed=day + timedelta(hours=12),
                     profit=pnl + COMMISSION, commission=-COMMISSION)
        flow = DEPOSITS.get(index, D(0))
        returns.append(float(pnl / (equity + flow)))
        equity += flow + pnl
        snapshot(bridge, day + timedelta(hours=20), equity=equity)
    pnls = [profit - COMMISSION if profit != 1 else D(0) for profit in PROFITS]
    return bridge, returns, pnls


def get(client, path, **params):
    return client.get(f"/api/v1/analytics/{path}/", params)


def daily_of(client, **params) -> list[dict]:
    """The daily answer's days, oldest first (it pages them newest first)."""
    return get(client, "daily", page_size=200, **params).json()["results"][::-1]


def instruments_of(client, **params) -> list[dict]:
    return get(client, "by-instrument", **params).json()["results"]


def test_the_summary_states_every_figure(account, alice):
    bridge, returns, pnls = account
    body = get(bearer(alice), "summary", window="all").json()
    r = np.array(returns)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    assert body["account"] == bridge.key_id and body["producer"] is None and body["currency"] == "USD"
    assert (body["window"], body["periods_per_year"], body["risk_free_rate"], body["days"]) == ("all", 252, 0.0, 44)
    assert (body["trades"], body["wins"], body["losses"], body["breakeven"]) == (44, len(wins), len(losses), 3)
    assert Decimal(body["gross_profit"]) == sum(wins)
    assert Decimal(body["gross_loss"]) == sum(losses)
    assert Decimal(body["net_profit"]) == sum(pnls)
    assert body["win_rate"] == pytest.approx(len(wins) / (len(wins) + len(losses)))
    assert body["profit_factor"] == pytest.approx(float(sum(wins) / -sum(losses)))
    assert body["payoff_ratio"] == pytest.approx(float((sum(wins) / len(wins)) / (-sum(losses) / len(losses))))
    assert Decimal(body["expectancy"]) == pytest.approx(sum(pnls) / 44)
    assert body["expectancy_r"] is None  # no position had a stop: no initial risk
    assert Decimal(body["largest_win"]) == max(pnls) and Decimal(body["largest_loss"]) == min(pnls)
    assert body["max_consecutive_losses"] == 4  # days 21 to 24
    assert body["avg_hold_seconds"] == 3 * 3600
    reference = {
        "total_return": empyrical.cum_returns_final(r), "cagr": empyrical.annual_return(r),
        "volatility_annual": empyrical.annual_volatility(r), "sharpe": empyrical.sharpe_ratio(r),
        "sortino": empyrical.sortino_ratio(r), "calmar": empyrical.calmar_ratio(r),
        "max_drawdown": empyrical.max_drawdown(r),
        "recovery_factor": empyrical.cum_returns_final(r) / abs(empyrical.max_drawdown(r)),
    }
    for name, value in reference.items():
        assert body[name] == pytest.approx(value, rel=1e-9), name
    assert isinstance(body["max_drawdown_days"], int) and body["max_drawdown_days"] > 0
    assert body["insufficient"] == ["expectancy_r"]


def test_a_window_counts_its_days_only_and_all_equals_the_fold_of_every_day(account, alice):
    bridge, returns, pnls = account
    client = bearer(alice)
    # The 30 UTC days up to today: the history's last 29 (it ends yesterday).
    recent = get(client, "summary", window="30d").json()
    assert (recent["days"], recent["trades"]) == (29, 29)
    assert recent["sharpe"] is None and "sharpe" in recent["insufficient"]
    assert recent["max_drawdown"] == pytest.approx(empyrical.max_drawdown(np.array(returns[-29:])), rel=1e-9)
    assert Decimal(recent["net_profit"]) == sum(pnls[-29:])
    short = get(client, "summary", window="90d").json()
    everything = get(client, "summary", window="all").json()
    # `all` reads the sealed totals and the days after them; 90d folds every row: the same history.
    assert {**short, "window": "all"} == everything


def test_fewer_than_thirty_days_or_twenty_trades_are_insufficient(alice):
    bridge = open_account(alice)
    snapshot(bridge, day_start(5), equity="1000")
    closed_trade(bridge, opened=day_start(4), closed=day_start(4) + timedelta(hours=1), profit="10")
    snapshot(bridge, day_start(4) + timedelta(hours=2), equity="1010")
    body = get(bearer(alice), "summary").json()
    assert body["days"] == 1 and body["trades"] == 1
    assert set(body["insufficient"]) == {"win_rate", "profit_factor", "payoff_ratio", "expectancy", "expectancy_r",
                                         "largest_loss", "cagr", "volatility_annual", "sharpe", "sortino", "calmar",
                                         "recovery_factor"}
    assert body["total_return"] == pytest.approx(0.01) and body["max_drawdown"] == 0
    for name in body["insufficient"]:
        assert body[name] is None


def test_sharpe_is_null_when_every_daily_return_is_the_same(alice):
    bridge = open_account(alice, name="steady")
    # Each evening equity 3000 and balance 10.00 less: 10.00 withdrawn and 10.00 earned on 2990, a return
    # of 1/299 (no end to its digits) every day.
    snapshot(bridge, day_start(40) + timedelta(hours=20), equity="3000", balance="3000")
    for index in range(1, 36):
        snapshot(bridge, day_start(40 - index) + timedelta(hours=20), equity="3000",
                 balance=str(3000 - 10 * index))
    returns = {day["return"] for day in daily_of(bearer(alice)) if day["return"] is not None}
    assert len(returns) == 1
    body = get(bearer(alice), "summary").json()
    assert body["days"] == 35
    assert (body["sharpe"], "sharpe" in body["insufficient"]) == (None, True)
    assert body["volatility_annual"] == 0


def test_daily_answers_each_utc_day(account, alice):
    bridge, returns, pnls = account
    days = daily_of(bearer(alice), window="all")
    assert len(days) == DAYS + 1  # the first evening is the base: no return yet
    first, *rest = days
    assert first["return"] is None or first["return"] == 0
    assert [day["return"] for day in rest] == pytest.approx(returns, rel=1e-12)
    assert [Decimal(day["pnl"]) for day in rest] == pnls
    assert [day["trades"] for day in rest] == [1] * DAYS
    assert rest[10]["equity"] == f"{D('10000') + sum(pnls[:11]) + D('2000'):.2f}"
    assert rest[-1]["date"] == str(day_start(1).date())


def test_by_instrument_splits_the_trades(account, alice):
    bridge, _, pnls = account
    closed_trade(bridge, opened=day_start(1) + timedelta(hours=13), closed=day_start(1) + timedelta(hours=14),
                 profit="-7.5", instrument="XAUUSD")
    items = instruments_of(bearer(alice), window="all")
    assert [item["instrument"] for item in items] == ["XAUUSD", "EURUSD"]  # the newer instrument first
    gold, eurusd = items
    assert eurusd["trades"] == 44 and Decimal(eurusd["net_profit"]) == sum(pnls)
    assert gold["trades"] == 1 and gold["losses"] == 1 and Decimal(gold["largest_loss"]) == D("-7.5")
    assert "win_rate" in gold["insufficient"] and gold["win_rate"] is None
    assert {item["instrument"]: item["trades"] for item in instruments_of(bearer(alice), window="30d")} == {
        "XAUUSD": 1, "EURUSD": 29}


def test_bad_parameters_are_a_problem_naming_the_field(alice):
    client = bearer(alice)
    response = get(client, "summary", window="7d")
    assert response.status_code == 422 and response["Content-Type"].startswith("application/problem+json")
    assert "window" in response.json()["errors"]
    both = get(client, "daily", producer="x", user="y")
    assert both.status_code == 422 and "user" in both.json()["errors"]


def test_staff_see_any_account_others_see_their_own(account, alice, bob, operator):
    assert get(bearer(operator), "summary", user="alice").json()["trades"] == 44
    assert get(bearer(bob), "summary", user="alice").status_code == 404
    assert get(bearer(operator), "summary", user="nobody").status_code == 404
    assert get(bearer(bob), "summary").json()["trades"] == 0  # bob has no account: nothing to count
    assert get(bearer(alice), "summary").status_code == 200


def test_anonymous_callers_are_refused(anon):
    assert anon.get("/api/v1/analytics/summary/").status_code == 401


# --- recompute_analytics -------------------------------------------------------------------------


def test_recompute_finds_the_rollups_right_and_reports_a_wrong_one(account, capsys):
    call_command("recompute_analytics")
    assert "agree" in capsys.readouterr().out
    bridge = account[0]
    row = DailyRollup.objects.filter(bridge=bridge, instrument__isnull=True, trades=1).first()
    DailyRollup.objects.filter(pk=row.pk).update(gross_loss=D("-999"))
    with pytest.raises(CommandError, match="differences"):
        call_command("recompute_analytics")
    assert "gross_loss" in capsys.readouterr().out
    call_command("recompute_analytics", "--apply")
    call_command("recompute_analytics")


def test_late_fills_and_snapshots_out_of_order_leave_the_rollups_as_the_records_say(alice):
    bridge = open_account(alice)
    snapshot(bridge, day_start(3), equity="1000")
    # The broker's evening snapshot already holds a closed trade's profit...
    snapshot(bridge, day_start(2) + timedelta(hours=20), equity="1050")
    # ...whose fills arrive afterwards: a deposit until then, P&L after.
    closed_trade(bridge, opened=day_start(2) + timedelta(hours=9), closed=day_start(2) + timedelta(hours=10),
                 profit="50")
    # A snapshot of an earlier evening, sent late; a position closed earlier than one already folded.
    snapshot(bridge, day_start(2) + timedelta(hours=1), equity="1000")
    snapshot(bridge, day_start(1) + timedelta(hours=20), equity="1010")
    closed_trade(bridge, opened=day_start(1) + timedelta(hours=11), closed=day_start(1) + timedelta(hours=12),
                 profit="-20")
    closed_trade(bridge, opened=day_start(1) + timedelta(hours=9), closed=day_start(1) + timedelta(hours=10),
                 profit="-20")
    snapshot(bridge, day_start(1) + timedelta(hours=21), equity="1010", balance="1010")
    call_command("recompute_analytics")
    days = daily_of(bearer(alice))
    # The first snapshot is the base; the late fill's 50 is P&L, not a deposit; the two losses count in order.
    assert [(day["pnl"], day["trades"]) for day in days] == [(None, 0), ("50.00", 1), ("-40.00", 2)]
    assert get(bearer(alice), "summary").json()["max_consecutive_losses"] == 2


# --- a strategy across its subscribers ---------------------------------------------------------------


@pytest.fixture
def strategy(make_user, alice, bob, consent_v1, markets_open):
    olga = make_user("olga")
    producer, accounts = history.public_strategy(olga, (alice, bob))
    profits = [("30", "20"), ("-10", "-15"), ("25", "5")]
    orders = []
    for offset, pair in enumerate(profits):
        signal = history.publish(producer)
        moment = day_start(3 - offset) + timedelta(hours=10)
        for bridge, profit in zip(accounts, pair):
            orders.append(history.strategy_trade(bridge, signal, opened=moment, closed=moment + timedelta(hours=1),
                                                 profit=profit))
    # alice's own trades, outside the strategy.
    closed_trade(accounts[0], opened=day_start(2), closed=day_start(2) + timedelta(hours=1), profit="99")
    return olga, producer, accounts, profits, orders


def test_the_owner_sees_the_strategy_across_its_subscribers(strategy, alice, bob, operator):
    olga, producer, accounts, profits, orders = strategy
    body = get(bearer(olga), "summary", producer="trend-engine").json()
    assert body["producer"] == "trend-engine" and body["account"] is None and body["currency"] is None
    assert (body["trades"], body["wins"], body["losses"]) == (6, 4, 2)
    assert Decimal(body["net_profit"]) == D("55")
    assert body["days"] == 3
    equity = {order.bridge_id: order.equity_at_sizing for order in orders}
    expected = [float((D(a) / equity[accounts[0].pk] + D(b) / equity[accounts[1].pk]) / 2) for a, b in profits]
    days = daily_of(bearer(olga), producer="trend-engine")
    assert [day["return"] for day in days] == pytest.approx(expected, rel=1e-9)
    assert [day["equity"] for day in days] == [None, None, None]
    assert body["total_return"] == pytest.approx(float(np.prod(1 + np.array(expected)) - 1), rel=1e-9)
    items = instruments_of(bearer(olga), producer="trend-engine")
    assert [(item["instrument"], item["trades"]) for item in items] == [("EURUSD", 6)]
    # Others see no strategy of olga's, staff do.
    assert get(bearer(alice), "summary", producer="trend-engine").status_code == 404
    assert get(bearer(bob), "daily", producer="trend-engine").status_code == 404
    assert get(bearer(operator), "summary", producer="trend-engine").json()["trades"] == 6
    assert get(bearer(olga), "summary", producer="nonexistent").status_code == 404
    # alice's account counts her own trade too.
    assert get(bearer(alice), "summary").json()["trades"] == 4
    call_command("recompute_analytics")


def test_expectancy_in_r_from_the_orders_initial_risk(strategy, alice):
    olga, producer, accounts, profits, orders = strategy
    alice_orders = [order for order in orders if order.bridge_id == accounts[0].pk]
    body = instruments_of(bearer(alice))[0]
    assert body["trades"] == 4 and body["expectancy_r"] is None  # under 20 trades
    from analytics import selectors

    subject = selectors.subject_for(user=alice)
    rs = selectors.r_multiples(subject=subject, window="all")
    risks = [order.initial_risk for order in alice_orders]
    assert rs == pytest.approx([float(D(p) / risk) for (p, _), risk in zip(profits, risks)])


# --- charts and the console -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["monthly", "drawdown", "r-multiples"])
def test_the_charts_draw_the_callers_figures(strategy, kind, alice, bob, make_user):
    olga = strategy[0]
    response = bearer(olga).get(f"/api/v1/charts/{kind}/", {"producer": "trend-engine", "window": "all"})
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG") and response["ETag"]
    again = bearer(olga).get(f"/api/v1/charts/{kind}/", {"producer": "trend-engine"},
                             HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert bearer(bob).get(f"/api/v1/charts/{kind}/", {"producer": "trend-engine"}).status_code == 404
    assert bearer(make_user("newcomer")).get(f"/api/v1/charts/{kind}/").status_code == 404
    assert bearer(alice).get(f"/api/v1/charts/{kind}/", {"window": "5y"}).status_code == 422


def test_a_late_snapshot_redraws_the_drawdown_chart_on_the_next_request(alice):
    bridge = open_account(alice)
    snapshot(bridge, day_start(4) + timedelta(hours=20), equity="10000", balance="10000")
    snapshot(bridge, day_start(3) + timedelta(hours=20), equity="10100", balance="10000")
    snapshot(bridge, day_start(2) + timedelta(hours=8), equity="10300", balance="10000")
    snapshot(bridge, day_start(1) + timedelta(hours=20), equity="10200", balance="10000")
    client = bearer(alice)
    before = client.get("/api/v1/charts/drawdown/")
    assert before.status_code == 200
    # Sent late: day -2's evening, a loss. It rewrites day -2's close and
    # day -1's base, and leaves the window's count of days, trades, newest
    # snapshot and fills' money as they were.
    snapshot(bridge, day_start(2) + timedelta(hours=20), equity="9000", balance="10000")
    after = client.get("/api/v1/charts/drawdown/")
    cache.clear()
    caches.images.clear()
    drawn_anew = client.get("/api/v1/charts/drawdown/")
    assert after["ETag"] != before["ETag"]
    assert after["ETag"] == drawn_anew["ETag"]


def test_a_revised_position_redraws_the_r_multiples_chart_on_the_next_request(strategy):
    olga, _, accounts, _, orders = strategy
    client = bearer(olga)
    before = client.get("/api/v1/charts/r-multiples/", {"producer": "trend-engine"})
    assert before.status_code == 200
    # Late fills of alice's first position: more in and out between its open
    # and its close. It closes at the same time, the same one trade, for
    # more P&L.
    position = Position.objects.get(order=orders[0])
    closed_at, moment = position.close_time, position.open_time + timedelta(minutes=10)
    services.record_fills(bridge=accounts[0], fills=[
        _fill(entry="in", ticket=position.ticket, moment=moment, instrument="EURUSD", side="buy",
              volume=D("0.05")),
        _fill(entry="out", ticket=position.ticket, moment=moment + timedelta(minutes=10), instrument="EURUSD",
              side="sell", profit=D("7"), volume=D("0.05")),
    ])
    position.refresh_from_db()
    assert position.close_time == closed_at and position.realized_pnl == D("37")
    after = client.get("/api/v1/charts/r-multiples/", {"producer": "trend-engine"})
    cache.clear()
    caches.images.clear()
    drawn_anew = client.get("/api/v1/charts/r-multiples/", {"producer": "trend-engine"})
    assert after["ETag"] != before["ETag"]
    assert after["ETag"] == drawn_anew["ETag"]


def test_a_signed_link_draws_the_chart(strategy):
    olga = strategy[0]
    made = bearer(olga).post("/api/v1/charts/links/", {"chart": "drawdown", "producer": "trend-engine",
                                                       "window": "all"}, format="json")
    assert made.status_code == 201, made.content
    from rest_framework.test import APIClient

    answer = APIClient().get(made.json()["url"])
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"


def test_the_console_leaderboard_sorts_and_says_insufficient(strategy, superuser, client, alice):
    from signals import services as signal_services

    olga, _, accounts, _, _ = strategy
    other, _ = signal_services.create_producer(name="mean-reversion", owner=olga)
    signal_services.update_producer(producer=other, public=True)
    signal_services.subscribe(user=alice, producer=other)
    history.strategy_trade(accounts[0], history.publish(other), opened=day_start(1), closed=day_start(1) +
                           timedelta(hours=1), profit="12")
    client.force_login(superuser)
    most = client.get("/admin/analytics/strategyleaderboard/?o=trades&dir=desc").content.decode()
    fewest = client.get("/admin/analytics/strategyleaderboard/?o=trades&dir=asc").content.decode()
    assert most.index("trend-engine") < most.index("mean-reversion")
    assert fewest.index("mean-reversion") < fewest.index("trend-engine")
    assert "insufficient" in most and "Profit factor" in most and "Sharpe" in most
    # An unknown column sorts by Sharpe; every figure here is insufficient, so the page still lists both.
    assert client.get("/admin/analytics/strategyleaderboard/?o=nonsense").status_code == 200


def test_twenty_trades_of_a_strategy_give_its_ratios_and_expectancy_in_r(make_user, alice, consent_v1,
                                                                         markets_open):
    from signals import services as signal_services

    olga = make_user("olga")
    producer, _ = signal_services.create_producer(name="breakout", owner=olga)
    signal_services.update_producer(producer=producer, public=True)
    signal_services.subscribe(user=alice, producer=producer)
    bridge = open_account(alice)
    snapshot(bridge, timezone.now(), equity="10000")
    profits = [D(value) for value in ("30", "-10", "25", "-10", "-10", "40", "5", "-20", "15", "0",
                                      "12", "-8", "22", "-14", "9", "-3", "18", "-6", "27", "-11")]
    orders = [history.strategy_trade(bridge, history.publish(producer), opened=day_start(21 - n),
                                     closed=day_start(21 - n) + timedelta(hours=2), profit=profit)
              for n, profit in enumerate(profits)]
    body = get(bearer(olga), "summary", producer="breakout").json()
    wins, losses = [p for p in profits if p > 0], [p for p in profits if p < 0]
    assert (body["trades"], body["wins"], body["losses"], body["breakeven"]) == (20, 10, 9, 1)
    assert body["win_rate"] == pytest.approx(10 / 19)
    assert body["profit_factor"] == pytest.approx(float(sum(wins) / -sum(losses)))
    assert body["payoff_ratio"] == pytest.approx(float((sum(wins) / 10) / (-sum(losses) / 9)))
    assert Decimal(body["expectancy"]) == (sum(profits) / 20).quantize(Decimal("1e-8"))
    r = [profit / order.initial_risk for profit, order in zip(profits, orders)]
    assert body["expectancy_r"] == pytest.approx(float(sum(r) / 20), rel=1e-8)  # each R to 9 places
    assert body["max_consecutive_losses"] == 2 and body["avg_hold_seconds"] == 7200
    assert body["days"] == 20 and body["sharpe"] is None and "sharpe" in body["insufficient"]
    assert body["insufficient"] == ["cagr", "volatility_annual", "sharpe", "sortino", "calmar", "recovery_factor"]
    assert get(bearer(alice), "summary").json()["expectancy_r"] == body["expectancy_r"]


# --- the lists' pages -------------------------------------------------------------------------------


@pytest.fixture
def three_days(alice):
    bridge = open_account(alice)
    snapshot(bridge, day_start(4) + timedelta(hours=20), equity="10000")
    for index, profit in enumerate(["10", "-5", "7"]):
        day = day_start(3 - index)
        closed_trade(bridge, opened=day + timedelta(hours=9), closed=day + timedelta(hours=12), profit=profit)
        snapshot(bridge, day + timedelta(hours=20), equity=str(10000 + index))
    return bridge


def test_daily_is_a_list_paged_newest_day_first(three_days, alice):
    # Lists (docs/api.md#lists): `{"next", "previous", "results"}`, newest first, `?page_size=`.
    response = bearer(alice).get("/api/v1/analytics/daily/", {"page_size": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body, dict) and {"next", "previous", "results"} <= set(body), body
    dates = [day["date"] for day in body["results"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == 2
    assert dates[0] == str(day_start(1).date())
    rest = bearer(alice).get(body["next"]).json()
    assert [day["date"] for day in rest["results"]] == [str(day_start(3).date()), str(day_start(4).date())]
    assert rest["next"] is None


def test_by_instrument_is_a_list_paged_newest_instrument_first(three_days, alice):
    body = bearer(alice).get("/api/v1/analytics/by-instrument/").json()
    assert isinstance(body, dict) and {"next", "previous", "results"} <= set(body), body
    assert [item["instrument"] for item in body["results"]] == ["EURUSD"]
