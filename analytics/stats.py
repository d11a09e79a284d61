"""The performance figures: folds over closed trades and daily returns, and
the figures made of them. Pure functions, no database.

Money and returns stay Decimal, summed exactly whatever order the days or
trades are added in (so a fold kept up to date as events arrive equals one
recomputed from the records), until the final ratios, which are floats.
The return figures follow empyrical's definitions (`volatility_annual` is
`annual_volatility`, `cagr` is `annual_return`, `sortino` uses its
`downside_risk`, drawdowns are measured from a start of 1).
"""

import math
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from decimal import Context, Decimal, localcontext

# Enough digits that forty years of daily growth factors multiply exactly to
# far below the 1e-9 the figures are checked to.
PRECISION = Context(prec=40)
ROUNDING_UNIT = Decimal(10) ** (1 - PRECISION.prec)  # a last digit's unit, relative to the number
ZERO = Decimal(0)
ONE = Decimal(1)
# Quantum of a trade's R multiple and of a trade's return on its account:
# fine enough for any figure, coarse enough that their sums keep within the
# 15 significant digits SQLite stores a number with.
R_QUANTUM = Decimal("1e-9")
RETURN_QUANTUM = Decimal("1e-12")
# Quantum of the expectancy, a quotient of money: the places money is stored
# with (core.model_fields.DECIMAL_PLACES), not the 28 digits of a division.
MONEY_QUANTUM = Decimal("1e-8")

# Below these, averages and ratios say more about luck than about the
# strategy: they are null and named in `insufficient`.
MIN_TRADES = 20
MIN_DAYS = 30

TRADE_FIGURES = ("trades", "wins", "losses", "breakeven", "win_rate", "gross_profit", "gross_loss", "net_profit",
                 "profit_factor", "payoff_ratio", "expectancy", "expectancy_r", "largest_win", "largest_loss",
                 "max_consecutive_losses", "avg_hold_seconds")
RETURN_FIGURES = ("total_return", "cagr", "volatility_annual", "sharpe", "sortino", "calmar", "max_drawdown",
                  "max_drawdown_days", "recovery_factor")


@dataclass
class Trades:
    """Closed trades folded in the order they closed: counts, money and the
    loss streaks (the longest run of losses, and the runs at either end, so
    that two folds concatenate)."""

    trades: int = 0
    wins: int = 0
    losses: int = 0
    breakeven: int = 0
    gross_profit: Decimal = ZERO
    gross_loss: Decimal = ZERO  # zero or negative
    largest_win: Decimal | None = None
    largest_loss: Decimal | None = None
    r_sum: Decimal = ZERO
    r_trades: int = 0  # the trades with an initial risk, which have an R multiple
    hold_seconds: int = 0
    lead_losses: int = 0
    trail_losses: int = 0
    max_losses: int = 0

    @classmethod
    def one(cls, *, pnl: Decimal, r: Decimal | None, hold_seconds: int) -> "Trades":
        loss = int(pnl < 0)
        return cls(trades=1, wins=int(pnl > 0), losses=loss, breakeven=int(pnl == 0),
                   gross_profit=max(pnl, ZERO), gross_loss=min(pnl, ZERO),
                   largest_win=pnl if pnl > 0 else None, largest_loss=pnl if pnl < 0 else None,
                   r_sum=r if r is not None else ZERO, r_trades=int(r is not None), hold_seconds=hold_seconds,
                   lead_losses=loss, trail_losses=loss, max_losses=loss)

    def then(self, later: "Trades") -> "Trades":
        """These trades followed by `later`'s."""
        return Trades(
            trades=self.trades + later.trades, wins=self.wins + later.wins, losses=self.losses + later.losses,
            breakeven=self.breakeven + later.breakeven, gross_profit=self.gross_profit + later.gross_profit,
            gross_loss=self.gross_loss + later.gross_loss,
            largest_win=_extreme(max, self.largest_win, later.largest_win),
            largest_loss=_extreme(min, self.largest_loss, later.largest_loss),
            r_sum=self.r_sum + later.r_sum, r_trades=self.r_trades + later.r_trades,
            hold_seconds=self.hold_seconds + later.hold_seconds,
            lead_losses=(self.lead_losses if self.lead_losses < self.trades
                         else self.trades + later.lead_losses),
            trail_losses=(later.trail_losses if later.trail_losses < later.trades
                          else later.trades + self.trail_losses),
            max_losses=max(self.max_losses, later.max_losses, self.trail_losses + later.lead_losses),
        )

    def to_json(self) -> dict:
        return {name: str(value) if isinstance(value, Decimal) else value for name, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "Trades":
        return cls(**{name: Decimal(value) if isinstance(value, str) else value for name, value in data.items()})

    @classmethod
    def of_row(cls, row) -> "Trades":
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def loss_streaks(losses: list[bool]) -> Trades:
    """What of a fold of trades depends on their order (the count and the
    loss streaks), from the trades in close order, True for a loss."""
    lead = next((index for index, loss in enumerate(losses) if not loss), len(losses))
    trail = next((index for index, loss in enumerate(reversed(losses)) if not loss), len(losses))
    longest = run = 0
    for loss in losses:
        run = run + 1 if loss else 0
        longest = max(longest, run)
    return Trades(trades=len(losses), lead_losses=lead, trail_losses=trail, max_losses=longest)


def _extreme(pick, a, b):
    return b if a is None else a if b is None else pick(a, b)


DAY_FIELDS = ("peak_day", "drawdown_peak_day", "recovered_day", "last_day")


@dataclass
class Returns:
    """Daily returns folded in date order: the sums of the mean, deviation
    and downside, the growth of 1, and the drawdowns (the deepest one, the
    day its peak was set and the day it was made good, if it was)."""

    risk_free_daily: Decimal = ZERO
    days: int = 0
    sum_r: Decimal = ZERO
    sum_r2: Decimal = ZERO
    sum_down2: Decimal = ZERO
    growth: Decimal = ONE
    peak: Decimal = ONE
    peak_day: date | None = None
    max_drawdown: Decimal = ZERO
    drawdown_peak_day: date | None = None
    recovered_day: date | None = None
    last_day: date | None = None
    pnl: Decimal = ZERO

    def add(self, day: date, r: Decimal, pnl: Decimal) -> None:
        with localcontext(PRECISION):
            if self.peak_day is None:
                self.peak_day = day - timedelta(days=1)  # the start, before the first day's return
            self.days += 1
            self.sum_r += r
            self.sum_r2 += r * r
            down = min(r - self.risk_free_daily, ZERO)
            self.sum_down2 += down * down
            self.growth *= ONE + r
            self.pnl += pnl
            if self.growth >= self.peak:
                if self.recovered_day is None and self.max_drawdown < 0 and self.drawdown_peak_day == self.peak_day:
                    self.recovered_day = day
                self.peak, self.peak_day = self.growth, day
            else:
                drawdown = self.growth / self.peak - ONE
                if drawdown < self.max_drawdown:
                    self.max_drawdown, self.drawdown_peak_day, self.recovered_day = drawdown, self.peak_day, None
            self.last_day = day

    def to_json(self) -> dict:
        return {name: None if value is None else value if isinstance(value, int) else str(value)
                for name, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "Returns":
        return cls(**{name: value if not isinstance(value, str)
                      else date.fromisoformat(value) if name in DAY_FIELDS else Decimal(value)
                      for name, value in data.items()})


def _ratio(numerator, denominator):
    return None if numerator is None or not denominator else float(numerator / denominator)


def trade_figures(trades: Trades) -> dict:
    """The trade statistics; averages and ratios null under MIN_TRADES."""
    enough = trades.trades >= MIN_TRADES
    decided = trades.wins + trades.losses
    net = trades.gross_profit + trades.gross_loss
    average_win = trades.gross_profit / trades.wins if trades.wins else None
    average_loss = -trades.gross_loss / trades.losses if trades.losses else None
    return {
        "trades": trades.trades, "wins": trades.wins, "losses": trades.losses, "breakeven": trades.breakeven,
        "win_rate": _ratio(Decimal(trades.wins), decided) if enough else None,
        "gross_profit": trades.gross_profit, "gross_loss": trades.gross_loss, "net_profit": net,
        "profit_factor": _ratio(trades.gross_profit, -trades.gross_loss) if enough else None,
        "payoff_ratio": _ratio(average_win, average_loss) if enough and average_win is not None else None,
        "expectancy": (net / trades.trades).quantize(MONEY_QUANTUM) if enough else None,
        "expectancy_r": _ratio(trades.r_sum, trades.r_trades) if trades.r_trades >= MIN_TRADES else None,
        "largest_win": trades.largest_win, "largest_loss": trades.largest_loss,
        "max_consecutive_losses": trades.max_losses,
        "avg_hold_seconds": trades.hold_seconds / trades.trades if trades.trades else None,
    }


def return_figures(returns: Returns, *, periods_per_year: int) -> dict:
    """The return statistics of the daily returns (empyrical's
    definitions); the annualized ones and the ratios null under MIN_DAYS."""
    n = returns.days
    if n == 0:
        return dict.fromkeys(RETURN_FIGURES)
    enough = n >= MIN_DAYS
    with localcontext(PRECISION):
        mean = returns.sum_r / n
        # The sums are rounded to PRECISION: each of the n terms and
        # additions by at most one unit of its last digit, so the squares'
        # sum less the mean's share of it is off by less than
        # 2 * n * sum_r2 * 10^(1 - prec). A spread within that is rounding,
        # no spread: equal returns that do not terminate (1/3) would leave
        # its square root, a std of ~1e-20 of them and a Sharpe of ~1e20.
        spread = returns.sum_r2 - returns.sum_r * returns.sum_r / n
        rounding = 2 * n * returns.sum_r2 * ROUNDING_UNIT
        variance = (spread / (n - 1) if spread > rounding else ZERO) if n > 1 else None
        std = variance.sqrt() if variance is not None else None
        downside = (returns.sum_down2 / n).sqrt()
        excess = mean - returns.risk_free_daily
    root = math.sqrt(periods_per_year)
    growth = float(returns.growth)
    cagr = growth ** (periods_per_year / n) - 1 if growth > 0 else None
    drawdown = float(returns.max_drawdown)
    total = growth - 1
    return {
        "total_return": total,
        "cagr": cagr if enough else None,
        "volatility_annual": float(std) * root if enough and std is not None else None,
        "sharpe": float(excess / std) * root if enough and std else None,
        "sortino": float(excess) * periods_per_year / (float(downside) * root) if enough and downside else None,
        "calmar": cagr / abs(drawdown) if enough and cagr is not None and drawdown < 0 else None,
        "max_drawdown": drawdown,
        "max_drawdown_days": ((returns.recovered_day or returns.last_day) - returns.drawdown_peak_day).days
        if drawdown < 0 else 0,
        "recovery_factor": total / abs(drawdown) if enough and drawdown < 0 else None,
    }


def account_day(*, base_equity: Decimal, base_balance: Decimal, close_equity: Decimal, close_balance: Decimal,
                fills_money: Decimal) -> tuple[Decimal, Decimal, Decimal | None]:
    """An account's day from its base and its close: (pnl, deposits less
    withdrawals, return). The change of balance that the fills' money does
    not explain is a deposit or a withdrawal, counted as made at the start
    of the day; the return is null when nothing was left to earn on."""
    with localcontext(PRECISION):
        flow = close_balance - base_balance - fills_money
        pnl = close_equity - base_equity - flow
        capital = base_equity + flow
        return pnl, flow, pnl / capital if capital > 0 else None
