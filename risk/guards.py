"""The account guards' arithmetic and verdict: pure functions of an
account's equity figures (open positions included) and its policy."""

from dataclasses import dataclass
from decimal import Decimal

from risk.modes import Mode
from risk.policy import Policy

ZERO = Decimal(0)
PERCENT_SHOWN = Decimal("0.01")


def fall_percent(*, reference: Decimal | None, equity: Decimal | None) -> Decimal:
    """How far `equity` is below `reference`, in percent of it; 0 when it is
    not below (or either is unknown)."""
    if reference is None or equity is None or reference <= 0 or equity >= reference:
        return ZERO
    return (reference - equity) / reference * 100


@dataclass(frozen=True)
class Figures:
    """An account's equity (open positions included), its high-water mark
    and the UTC day's opening equity; None before the first snapshot."""

    equity: Decimal | None
    high_water_mark: Decimal | None
    day_open_equity: Decimal | None

    @property
    def drawdown_percent(self) -> Decimal:
        return fall_percent(reference=self.high_water_mark, equity=self.equity)

    @property
    def daily_loss_percent(self) -> Decimal:
        return fall_percent(reference=self.day_open_equity, equity=self.equity)

    def shown(self) -> dict:
        """As people read them: the percents to 0.01."""
        return {"equity": self.equity, "high_water_mark": self.high_water_mark,
                "drawdown_percent": self.drawdown_percent.quantize(PERCENT_SHOWN),
                "day_open_equity": self.day_open_equity,
                "daily_loss_percent": self.daily_loss_percent.quantize(PERCENT_SHOWN)}


def verdict(*, mode: str, figures: Figures, policy: Policy) -> str:
    """The mode the figures put an account in, from the mode it is in now
    (`reducing` past its midnight already counted as `active`): halted
    stays halted until staff resume it; reducing stays reducing until its
    midnight."""
    if mode == Mode.HALTED or figures.drawdown_percent >= policy.max_drawdown_percent:
        return Mode.HALTED
    if mode == Mode.REDUCING or figures.daily_loss_percent >= policy.max_daily_loss_percent:
        return Mode.REDUCING
    return Mode.ACTIVE


def drawdown_warning(*, figures: Figures, policy: Policy) -> bool:
    """Past the warning threshold (a share of the maximum: risk.policy)."""
    return figures.drawdown_percent >= policy.drawdown_warning_percent
