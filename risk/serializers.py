"""The risk policy as the API shows it, and a user's change of their own."""

from rest_framework import serializers

from core.fields import AmountField, StrictDecimalField, StrictIntegerField
from core.prices import format_price
from risk import policy
from risk.models import RiskPolicy

PERCENT_DECIMALS = 2
MONEY_DECIMALS = 2


def _help(name) -> str:
    setting = policy.SETTINGS_BY_NAME[name]
    bounds = setting.bounds_text()
    return f"{setting.help_text} Default {setting.default}" + (f", {bounds}." if bounds else ".")


def _percent(name, **kwargs):
    field = RiskPolicy._meta.get_field(name)
    return StrictDecimalField(max_digits=field.max_digits, decimal_places=field.decimal_places,
                              help_text=_help(name), **kwargs)


class PolicySerializer(serializers.Serializer):
    """The settings in force for an account: the user's override over the
    operators' defaults."""

    risk_per_trade_percent = serializers.CharField(help_text=_help("risk_per_trade_percent"))
    require_stop_loss = serializers.BooleanField(help_text=_help("require_stop_loss"))
    max_open_positions = serializers.IntegerField(help_text=_help("max_open_positions"))
    max_daily_loss_percent = serializers.CharField(help_text=_help("max_daily_loss_percent"))
    max_drawdown_percent = serializers.CharField(help_text=_help("max_drawdown_percent"))
    min_equity = serializers.CharField(help_text=_help("min_equity"))
    cooldown_after_losses = serializers.IntegerField(help_text=_help("cooldown_after_losses"))
    cooldown_minutes = serializers.IntegerField(help_text=_help("cooldown_minutes"))
    version = serializers.IntegerField(help_text="The newest policy version these settings come from (0: the "
                                                 "built-in defaults). Every order records the one that decided it.")

    def to_representation(self, effective: policy.Policy):
        return {
            "risk_per_trade_percent": format_price(effective.risk_per_trade_percent, PERCENT_DECIMALS),
            "require_stop_loss": effective.require_stop_loss,
            "max_open_positions": effective.max_open_positions,
            "max_daily_loss_percent": format_price(effective.max_daily_loss_percent, PERCENT_DECIMALS),
            "max_drawdown_percent": format_price(effective.max_drawdown_percent, PERCENT_DECIMALS),
            "min_equity": format_price(effective.min_equity, MONEY_DECIMALS),
            "cooldown_after_losses": effective.cooldown_after_losses,
            "cooldown_minutes": effective.cooldown_minutes,
            "version": effective.version,
        }


class PolicyChangeSerializer(serializers.Serializer):
    """The body of PATCH /api/v1/risk/policy/: the settings to tighten, each
    optional. Members that are not settings are refused."""

    risk_per_trade_percent = _percent("risk_per_trade_percent", required=False)
    require_stop_loss = serializers.BooleanField(required=False, help_text=_help("require_stop_loss"))
    max_open_positions = StrictIntegerField(required=False, help_text=_help("max_open_positions"))
    max_daily_loss_percent = _percent("max_daily_loss_percent", required=False)
    max_drawdown_percent = _percent("max_drawdown_percent", required=False)
    min_equity = AmountField(required=False, help_text=_help("min_equity"))
    cooldown_after_losses = StrictIntegerField(required=False, help_text=_help("cooldown_after_losses"))
    cooldown_minutes = StrictIntegerField(required=False, help_text=_help("cooldown_minutes"))

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Not a setting of the risk policy."] for name in unknown})
        return super().to_internal_value(data)
