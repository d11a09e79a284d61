"""The risk policy's settings: each one's built-in default, its bounds and
which way is stricter, and the effective policy of a user (their override's
settings over the operators' defaults). Pure: no database."""

from dataclasses import dataclass
from decimal import Decimal

LOWER, HIGHER = "lower", "higher"  # which way a setting is stricter


@dataclass(frozen=True)
class Setting:
    name: str
    default: Decimal | int | bool
    minimum: Decimal | int | None
    maximum: Decimal | int | None
    stricter: str
    help_text: str

    def bounds_text(self) -> str:
        if self.minimum is None:
            return ""
        return f"from {self.minimum} to {self.maximum}" if self.maximum is not None else f"at least {self.minimum}"

    def in_bounds(self, value) -> bool:
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)

    def looser(self, value, than) -> bool:
        """Whether `value` is less strict than `than` (True is stricter than False)."""
        return value > than if self.stricter == LOWER else value < than


SETTINGS = (
    Setting("risk_per_trade_percent", Decimal("1.0"), Decimal("0.1"), Decimal("5"), LOWER,
            "Share of the equity an order loses at its stop; sizes every order."),
    Setting("require_stop_loss", True, None, None, HIGHER,
            "A signal without a stop loss is denied `no-stop-loss`."),
    Setting("max_open_positions", 5, 1, 100, LOWER,
            "Open positions, and orders on their way to becoming one, beyond which new orders are denied."),
    Setting("max_daily_loss_percent", Decimal("5"), Decimal("0.1"), Decimal("100"), LOWER,
            "Loss from the UTC day's opening equity (open positions included) that makes the account "
            "`reducing` until 00:00 UTC."),
    Setting("max_drawdown_percent", Decimal("20"), Decimal("1"), Decimal("100"), LOWER,
            "Fall from the equity high-water mark (open positions included) that halts the account and "
            "closes every open position."),
    Setting("min_equity", Decimal("100"), Decimal("0"), None, HIGHER,
            "Equity (account currency) below which new orders are denied `equity-floor`."),
    Setting("cooldown_after_losses", 3, 1, 100, LOWER,
            "Losing closes in a row that start a cooldown."),
    Setting("cooldown_minutes", 60, 0, 7 * 24 * 60, HIGHER,
            "How long new orders are denied `cooldown` after the last of those losing closes."),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}
NAMES = tuple(SETTINGS_BY_NAME)

# Drawdown at which a warning is raised, as a share of the policy's maximum.
DRAWDOWN_WARNING_SHARE = Decimal("0.8")


@dataclass(frozen=True)
class Policy:
    """The settings in force for one account. `version`: the newest of the
    policy versions it was made of (0: the built-in defaults, never changed)."""

    risk_per_trade_percent: Decimal
    require_stop_loss: bool
    max_open_positions: int
    max_daily_loss_percent: Decimal
    max_drawdown_percent: Decimal
    min_equity: Decimal
    cooldown_after_losses: int
    cooldown_minutes: int
    version: int

    @property
    def drawdown_warning_percent(self) -> Decimal:
        return self.max_drawdown_percent * DRAWDOWN_WARNING_SHARE

    def settings(self) -> dict:
        return {name: getattr(self, name) for name in NAMES}


BUILT_IN = Policy(**{setting.name: setting.default for setting in SETTINGS}, version=0)


def effective(*, defaults: dict | None, defaults_version: int = 0, override: dict | None = None,
              override_version: int = 0) -> Policy:
    """The override's settings that are set (not None) over the defaults'
    (the built-in ones when operators never changed them)."""
    values = {**BUILT_IN.settings(), **(defaults or {})}
    values.update({name: value for name, value in (override or {}).items() if value is not None})
    return Policy(**values, version=max(defaults_version, override_version))


def bound_errors(values: dict) -> dict[str, list[str]]:
    """Each setting of `values` (None: not set) outside its bounds, by name."""
    errors = {}
    for name, value in values.items():
        setting = SETTINGS_BY_NAME[name]
        if value is not None and not setting.in_bounds(value):
            errors[name] = [f"Must be {setting.bounds_text()}."]
    return errors


def loosened(*, current: Policy, proposed: dict) -> dict[str, list[str]]:
    """Each setting of `proposed` less strict than `current`'s, by name."""
    errors = {}
    for name, value in proposed.items():
        setting, now = SETTINGS_BY_NAME[name], getattr(current, name)
        if not setting.looser(value, now):
            continue
        if isinstance(now, bool):
            errors[name] = ["You may only tighten your policy: this is on now and stays on."]
        else:
            direction = "at least" if setting.stricter == HIGHER else "at most"
            errors[name] = [f"You may only tighten your policy: must be {direction} {now}, the value in force now."]
    return errors
