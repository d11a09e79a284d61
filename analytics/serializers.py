"""The analytics API's query and answers. The answers are built by
analytics/selectors.py; these serializers describe them to the schema and
write them out: money as decimal strings in the account currency, returns
and ratios as fractions (0.05 is 5 %)."""

from rest_framework import serializers

from analytics.selectors import WINDOWS

NAME_MAX_LENGTH = 150


class AnalyticsQuerySerializer(serializers.Serializer):
    """Sent empty (`?window=&user=`, as an HTML form sends them), a parameter
    means what it means when left out, as the lists' filters do; the schema
    says so (blank allowed)."""

    window = serializers.ChoiceField(choices=list(WINDOWS), default="all", allow_blank=True,
                                     help_text="The UTC days up to today: 30d, 90d, 365d, or all (the default).")
    producer = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False, allow_blank=True,
                                     help_text="A strategy you own (staff: any): its positions in every "
                                               "subscriber's account.")
    user = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False, allow_blank=True,
                                 help_text="Staff only: another user's account, by username.")

    def validate(self, attrs):
        attrs = {name: value for name, value in attrs.items() if value != ""}
        attrs.setdefault("window", "all")
        if "producer" in attrs and "user" in attrs:
            raise serializers.ValidationError({"user": ["Ask for a user's account or a producer's strategy, "
                                                        "not both."]})
        # Charting combines this with its own query serializer, whose validate follows.
        return super().validate(attrs)


def _money(**options):
    return serializers.CharField(allow_null=True, **options)


def _ratio(**options):
    return serializers.FloatField(allow_null=True, **options)


class TradeFiguresSerializer(serializers.Serializer):
    trades = serializers.IntegerField(help_text="Positions closed in the window.")
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    breakeven = serializers.IntegerField(help_text="Closed at exactly zero P&L.")
    win_rate = _ratio(help_text="wins / (wins + losses), a fraction.")
    gross_profit = _money()
    gross_loss = _money(help_text="Zero or negative.")
    net_profit = _money()
    profit_factor = _ratio(help_text="gross_profit / |gross_loss|.")
    payoff_ratio = _ratio(help_text="Average win / |average loss|.")
    expectancy = _money(help_text="Net profit per trade, rounded half-even to 8 places.")
    expectancy_r = _ratio(help_text="Mean of realized P&L / initial risk, over the trades with an initial risk.")
    largest_win = _money()
    largest_loss = _money()
    max_consecutive_losses = serializers.IntegerField()
    avg_hold_seconds = _ratio()
    insufficient = serializers.ListField(child=serializers.CharField(),
                                         help_text="The figures that are null: too few trades or days, "
                                                   "no losing trade, no drawdown.")


class SummarySerializer(TradeFiguresSerializer):
    account = serializers.CharField(allow_null=True, help_text="The account's bridge key id (null for a strategy).")
    producer = serializers.CharField(allow_null=True, help_text="The strategy's producer (null for an account).")
    window = serializers.CharField()
    currency = serializers.CharField(allow_null=True, help_text="The account currency of the money figures "
                                                                "(null for a strategy: its accounts' currencies).")
    periods_per_year = serializers.IntegerField()
    risk_free_rate = serializers.FloatField(help_text="Yearly, a fraction.")
    days = serializers.IntegerField(help_text="The daily returns the return figures come from.")
    total_return = _ratio()
    cagr = _ratio()
    volatility_annual = _ratio()
    sharpe = _ratio()
    sortino = _ratio()
    calmar = _ratio()
    max_drawdown = _ratio(help_text="Zero or negative, a fraction of the peak.")
    max_drawdown_days = serializers.IntegerField(allow_null=True, help_text="Calendar days from the deepest "
                                                                            "drawdown's peak to its recovery "
                                                                            "(or the last day).")
    recovery_factor = _ratio(help_text="total_return / |max_drawdown|.")


class DaySerializer(serializers.Serializer):
    date = serializers.DateField()
    pnl = _money()
    # "return" is a Python keyword: the field is named in the constructor.
    equity = _money(help_text="The account's equity at the day's last snapshot (null for a strategy).")
    trades = serializers.IntegerField(help_text="Positions closed that day.")

    def get_fields(self):
        fields = super().get_fields()
        fields["return"] = _ratio(help_text="The day's time-weighted return, a fraction.")
        return fields


class InstrumentFiguresSerializer(TradeFiguresSerializer):
    instrument = serializers.CharField()
