"""Reading the performance figures: whose they are (an account, or a
strategy across its subscribers' accounts) and what the daily rollups say
over a window. A summary reads the window's rows (at most one per day), or
for `all` the scope's totals and the few days after them."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone
from rest_framework.exceptions import NotFound

from analytics import rollups, stats
from analytics.models import DailyRollup, ScopeTotals
from core.lookups import LOOKUP_CHUNK, chunks
from core.prices import format_price
from execution.models import Bridge
from signals.models import Instrument, Producer

WINDOWS = {"30d": 30, "90d": 90, "365d": 365, "all": None}
MONEY_DECIMALS = 2
MONEY_FIGURES = ("gross_profit", "gross_loss", "net_profit", "expectancy", "largest_win", "largest_loss")
# The newest trades an R-multiples histogram shows at most.
R_MULTIPLES_MAX = 5000


@dataclass(frozen=True)
class Subject:
    """Whose figures: an account (`bridge`) or a strategy (`producer`)."""

    scope: rollups.Scope
    bridge: Bridge | None = None
    producer: Producer | None = None

    @property
    def currency(self) -> str | None:
        # A strategy's accounts may each keep another currency.
        return self.bridge.currency if self.bridge is not None else None

    def describe(self) -> dict:
        if self.producer is not None:
            return {"producer": self.producer.name, "account": None}
        return {"producer": None, "account": self.bridge.key_id if self.bridge is not None else None}


def account_of(user) -> Bridge | None:
    """The user's trading account: the enabled bridge, else the newest."""
    return Bridge.objects.filter(owner=user).order_by("-enabled", "-created_at").first()


def subject_for(*, user, producer: str | None = None, username: str | None = None) -> Subject:
    """What `user` asked for: their own account; another user's (`username`,
    staff only); a strategy (`producer`) they own, or any for staff.
    NotFound for what they may not see, as for what does not exist."""
    if producer is not None:
        found = Producer.objects.filter(name=producer).first()
        if found is None or not (user.is_staff or found.owner_id == user.pk):
            raise NotFound("No such producer.")
        return Subject(rollups.strategy(found.pk), producer=found)
    owner = user
    if username is not None:
        owner = get_user_model().objects.filter(username=username).first() if user.is_staff else None
        if owner is None:
            raise NotFound("No such user.")
    bridge = account_of(owner)
    return Subject(rollups.account(bridge.pk) if bridge else rollups.Scope(""), bridge=bridge)


def subject_of(*, bridge=None, producer=None) -> Subject:
    if producer is not None:
        return Subject(rollups.strategy(producer.pk), producer=producer)
    return Subject(rollups.account(bridge.pk), bridge=bridge)


def window_start(window: str, today: date | None = None) -> date | None:
    days = WINDOWS[window]
    return None if days is None else (today or timezone.now().date()) - timedelta(days=days - 1)


def _rows(scope: str, start: date | None):
    rows = DailyRollup.objects.filter(scope=scope)
    return (rows.filter(day__gte=start) if start else rows).order_by("day")


def _sealed(totals: ScopeTotals | None) -> bool:
    """Whether a scope's totals hold its days up to `sealed_through`."""
    return totals is not None and bool(totals.sealed_through) and rollups.same_risk_free(totals)


def _days_after(totals: ScopeTotals | None) -> dict:
    """The lookup of a scope's days its totals do not hold: those after
    `sealed_through`, or all of them without usable totals."""
    return {"day__gt": totals.sealed_through} if _sealed(totals) else {}


def _folded_all_time(totals: ScopeTotals | None, rows) -> tuple:
    """(Trades, Returns) of a scope's whole history: its sealed totals and
    `rows`, its days `_days_after` them."""
    if _sealed(totals):
        return rollups.fold(rows, trades=stats.Trades.from_json(totals.trades),
                            returns=stats.Returns.from_json(totals.returns))
    return rollups.fold(rows)


def _folded(scope: str, window: str, today: date | None):
    """(Trades, Returns) of a scope over the window."""
    if window == "all":
        totals = ScopeTotals.objects.filter(scope=scope).first()
        return _folded_all_time(totals, DailyRollup.objects.filter(scope=scope, **_days_after(totals)).order_by("day"))
    return rollups.fold(_rows(scope, window_start(window, today)))


def _figures(trades, returns) -> dict:
    return {**stats.trade_figures(trades),
            **stats.return_figures(returns, periods_per_year=settings.ANALYTICS_PERIODS_PER_YEAR)}


def _money(figures: dict) -> dict:
    return {name: format_price(value, MONEY_DECIMALS) if name in MONEY_FIGURES and value is not None else value
            for name, value in figures.items()}


def _with_insufficient(figures: dict) -> dict:
    return {**figures, "insufficient": [name for name, value in figures.items() if value is None]}


def settings_stated() -> dict:
    return {"periods_per_year": settings.ANALYTICS_PERIODS_PER_YEAR,
            "risk_free_rate": settings.ANALYTICS_RISK_FREE_RATE}


def summary(*, subject: Subject, window: str, today: date | None = None) -> dict:
    """Every trade and return figure of the subject over the window, with
    what they were computed from; a figure that cannot be honest is null
    and named in `insufficient`."""
    trades, returns = _folded(subject.scope.scope, window, today)
    figures = _figures(trades, returns)
    return {**subject.describe(), "window": window, "currency": subject.currency, **settings_stated(),
            "days": returns.days, **_with_insufficient(_money(figures))}


def daily(*, subject: Subject, window: str, today: date | None = None) -> QuerySet:
    """The subject's days in the window, one rollup row each (the API pages
    them newest first); `day_figures` reads one."""
    return _rows(subject.scope.scope, window_start(window, today))


def day_figures(row: DailyRollup) -> dict:
    """A UTC day: P&L (an account's: the change of equity less deposits and
    withdrawals; a strategy's: its closed positions'), return, equity at the
    day's last snapshot (an account's), positions closed."""
    day = rollups.day_return(row)
    if row.bridge_id is not None:
        pnl, equity = (day[1] if day else None), row.close_equity
    else:
        pnl, equity = row.gross_profit + row.gross_loss, None
    return {"date": row.day, "pnl": format_price(pnl, MONEY_DECIMALS), "return": float(day[0]) if day else None,
            "equity": format_price(equity, MONEY_DECIMALS), "trades": row.trades}


def by_instrument(*, subject: Subject, window: str, today: date | None = None) -> tuple[QuerySet, dict]:
    """The instruments the subject closed positions of in the window (the
    API pages them, the platform's newest instrument first), and the trade
    figures of each, by instrument id."""
    scope = subject.scope
    folds, after = {}, {}
    if scope.scope:
        owned = {"bridge_id": scope.bridge_id} if scope.bridge_id is not None else {"producer_id": scope.producer_id}
        rows = DailyRollup.objects.filter(instrument__isnull=False, **owned).order_by("day")
        if window == "all":
            for totals in ScopeTotals.objects.filter(instrument__isnull=False, **owned):
                after[totals.instrument_id] = totals.sealed_through or date.min
                if totals.sealed_through:
                    folds[totals.instrument_id] = stats.Trades.from_json(totals.trades)
            rows = [row for row in rows.filter(day__gt=min(after.values(), default=date.min))
                    if row.day > after.get(row.instrument_id, date.min)]
        else:
            rows = rows.filter(day__gte=window_start(window, today))
        for row in rows:
            folds[row.instrument_id] = folds.get(row.instrument_id, stats.Trades()).then(stats.Trades.of_row(row))
    traded = {instrument: trades for instrument, trades in folds.items() if trades.trades}
    instruments = Instrument.objects.filter(pk__in=traded)
    return instruments, {instrument.pk: {"instrument": instrument.symbol,
                                         **_with_insufficient(_money(stats.trade_figures(traded[instrument.pk])))}
                         for instrument in instruments}


# --- Charts -------------------------------------------------------------------------------


def subject_by_id(*, account: str | None = None, strategy: str | None = None) -> Subject:
    """The subject a chart link names, while its owner is active; NotFound
    otherwise (a link outlives neither)."""
    if strategy is not None:
        producer = Producer.objects.filter(pk=strategy, owner__is_active=True).first()
        if producer is None:
            raise NotFound("No such producer.")
        return subject_of(producer=producer)
    bridge = Bridge.objects.filter(pk=account, owner__is_active=True).first() if account else None
    if bridge is None:
        raise NotFound("No trading account.")
    return subject_of(bridge=bridge)


def chart_version(*, subject: Subject, window: str, today: date | None = None) -> tuple | None:
    """What changes whenever a chart of the window would, read in one
    aggregate over the window's rows: their count (a row dropped), newest id
    (a row added; ids only grow) and the sum of their revisions (every write
    of a row adds one, so a rewritten day moves it however the window's
    totals come out; a sum rather than a newest time, as writes may commit
    out of the order they were made in), and the day (the window moves with
    it). A closed position's R changes only with a revision of its days'
    rows, so this is r-multiples' version too. None when there is nothing
    to draw."""
    today = today or timezone.now().date()
    found = _rows(subject.scope.scope, window_start(window, today)).aggregate(
        rows=Count("id"), newest=Max("id"), revisions=Sum("revision"))
    if not found["rows"]:
        return None
    return today.isoformat(), found["rows"], found["newest"], found["revisions"]


def daily_returns(*, subject: Subject, window: str, today: date | None = None) -> list[tuple[date, float]]:
    returns = []
    for row in _rows(subject.scope.scope, window_start(window, today)):
        day = rollups.day_return(row)
        if day is not None:
            returns.append((row.day, float(day[0])))
    return returns


def monthly_returns(*, subject: Subject, window: str, today: date | None = None) -> list[tuple[int, int, float]]:
    """(year, month, the month's daily returns compounded) of each month
    with a daily return."""
    growth = {}
    for day, value in daily_returns(subject=subject, window=window, today=today):
        key = (day.year, day.month)
        growth[key] = growth.get(key, 1.0) * (1 + value)
    return [(year, month, value - 1) for (year, month), value in sorted(growth.items())]


def drawdowns(*, subject: Subject, window: str, today: date | None = None) -> tuple[list[date], list[float]]:
    """Each day's drawdown: how far the growth of 1 is under its running
    peak (a fraction <= 0), measured from the window's start."""
    days, values, growth, peak = [], [], 1.0, 1.0
    for day, value in daily_returns(subject=subject, window=window, today=today):
        growth *= 1 + value
        peak = max(peak, growth)
        days.append(day)
        values.append(growth / peak - 1)
    return days, values


def r_multiples(*, subject: Subject, window: str, today: date | None = None) -> list[float]:
    """The realized R of the subject's newest closed positions (at most
    R_MULTIPLES_MAX) in the window that had an initial risk."""
    positions = rollups.scope_positions(subject.scope).filter(initial_risk__gt=0)
    start = window_start(window, today)
    if start is not None:
        positions = positions.filter(close_time__gte=rollups.day_bounds(start)[0])
    rows = positions.order_by("-close_time", "-id").values_list("realized_pnl", "initial_risk")[:R_MULTIPLES_MAX]
    return [float(pnl / risk) for pnl, risk in reversed(rows)]


# --- The console's leaderboard ----------------------------------------------------------------

LEADERBOARD_FIGURES = ("trades", "win_rate", "profit_factor", "expectancy_r", "sharpe", "max_drawdown")
LEADERBOARD_MAX = 500


def leaderboard(*, order: str = "sharpe", descending: bool = True) -> list[dict]:
    """Every strategy with closed positions (at most LEADERBOARD_MAX, most
    recently active first), with its all-time figures, sorted by `order`;
    strategies whose figure is insufficient come last either way."""
    scopes = list(ScopeTotals.objects.filter(producer__isnull=False, instrument__isnull=True)
                  .select_related("producer", "producer__owner").order_by("-newest_day")[:LEADERBOARD_MAX])
    # Every strategy's days after its sealed totals, in a few reads, not two a strategy.
    days = defaultdict(list)
    for part in chunks(scopes, LOOKUP_CHUNK // 2):  # two parameters a strategy
        after = Q()
        for totals in part:
            after |= Q(scope=totals.scope, **_days_after(totals))
        for row in DailyRollup.objects.filter(after).order_by("day"):
            days[row.scope].append(row)
    board = []
    for totals in scopes:
        figures = _figures(*_folded_all_time(totals, days[totals.scope]))
        board.append({"producer": totals.producer, **{name: figures[name] for name in LEADERBOARD_FIGURES},
                      "insufficient": [name for name in LEADERBOARD_FIGURES if figures[name] is None]})
    present = sorted((row for row in board if row[order] is not None), key=lambda row: row[order],
                     reverse=descending)
    return present + [row for row in board if row[order] is None]
