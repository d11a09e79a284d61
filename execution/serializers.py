"""The bridge calls' bodies (validated field by field: a bad one is a 422
naming it, `fills.3.volume`) and the order, position and command resources.

The resources are written by hand in `to_representation`, with prices at
their instrument's precision and volumes and money at two decimals or more
(core.prices.format_price); the declared fields describe them to the schema
(execution/tests/test_api_user.py checks that both list the same members)."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import AmountField, ReportedTimeField, rfc3339
from core.plain_rows import PlainRows
from core.prices import format_price
from execution.models import (
    CLIENT_ORDER_ID_MAX_LENGTH,
    TICKET_MAX_LENGTH,
    Command,
    Fill,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
)
from risk.modes import Mode
from risk.serializers import PolicySerializer
from signals.models import Instrument, Signal

MAX_ITEMS_PER_CALL = 1000
AMOUNT_DECIMALS = 2  # volumes and money are shown with at least this many decimal places


def format_amount(value):
    return format_price(value, AMOUNT_DECIMALS)


def _id(value) -> str | None:
    return None if value is None else str(value)


def _time(value) -> str | None:
    return None if value is None else rfc3339(value)


# --- bridge input ------------------------------------------------------------------

def _instrument(help_text="The platform's symbol, any case."):
    # Which instruments exist is the services' check (a 422 naming the field too).
    return serializers.CharField(max_length=Instrument._meta.get_field("symbol").max_length, help_text=help_text)


def _ticket(**kwargs):
    return serializers.CharField(max_length=TICKET_MAX_LENGTH, **kwargs)


def _optional_ticket(**kwargs):
    return _ticket(required=False, allow_null=True, allow_blank=True, default=None, **kwargs)


class _Batch(serializers.Serializer):
    """A call carrying up to MAX_ITEMS_PER_CALL rows in `rows_field`."""

    rows_field = ""

    def to_internal_value(self, data):
        # Before any row is read, and with the error on the list's own name
        # (DRF's would say "<name>.non_field_errors").
        rows = data.get(self.rows_field) if isinstance(data, dict) else None
        if rows is not None and not isinstance(rows, list):
            raise serializers.ValidationError({self.rows_field: ["Must be a JSON array."]})
        if rows is not None and len(rows) > MAX_ITEMS_PER_CALL:
            raise serializers.ValidationError(
                {self.rows_field: [f"Send at most {MAX_ITEMS_PER_CALL} items per call."]})
        return super().to_internal_value(data)


class SymbolSpecSerializer(serializers.Serializer):
    instrument = _instrument()
    tick_size = AmountField(positive=True, help_text="The smallest price change.")
    tick_value = AmountField(positive=True, help_text="Account currency per lot per tick.")
    volume_min = AmountField(positive=True, help_text="Lots.")
    volume_step = AmountField(positive=True, help_text="Lots.")
    volume_max = AmountField(positive=True, help_text="Lots.")


class SymbolsSerializer(_Batch):
    """The body of POST /api/v1/bridge/symbols: the broker's contract specs."""

    rows_field = "symbols"
    symbols = SymbolSpecSerializer(many=True, help_text=f"At most {MAX_ITEMS_PER_CALL}.")


class PollSerializer(serializers.Serializer):
    """The body of POST /api/v1/bridge/poll: an empty JSON object (signed like
    every bridge call); members are ignored."""


class AcknowledgementSerializer(serializers.Serializer):
    """The body of POST /api/v1/bridge/ack, and its answer: what the bridge
    did with a command."""

    command = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Command.ACK_STATUSES)
    broker_ticket = _optional_ticket()
    error = serializers.CharField(required=False, allow_null=True, allow_blank=True, default="",
                                  help_text=f"Why the broker refused or failed it; kept up to {Command.ERROR_MAX} "
                                            "characters.")

    def validate(self, attrs):
        return {**attrs, "broker_ticket": attrs["broker_ticket"] or None, "error": attrs["error"] or ""}

    def to_representation(self, command):
        return {"command": str(command.pk), "status": command.status, "broker_ticket": command.broker_ticket,
                "error": command.error}


class FillSerializer(serializers.Serializer):
    fill_id = _ticket(help_text="The broker's deal id; stored once per bridge and fill_id.")
    client_order_id = _optional_ticket(help_text="The order's, for a fill of a platform order.")
    ticket = _optional_ticket(help_text="The broker's order ticket.")
    position_ticket = _ticket(help_text="The broker's position ticket.")
    instrument = _instrument()
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    entry = serializers.ChoiceField(choices=Fill.Entry.choices)
    volume = AmountField(positive=True, help_text="Lots.")
    price = AmountField(positive=True, help_text="With at most the instrument's decimal places.")
    time = serializers.DateTimeField()
    commission = AmountField(required=False, default=Decimal(0))
    swap = AmountField(required=False, default=Decimal(0))
    profit = AmountField(required=False, default=Decimal(0))

    def validate(self, attrs):
        return {**attrs, "client_order_id": attrs["client_order_id"] or None, "ticket": attrs["ticket"] or None}


class FillsSerializer(_Batch):
    """The body of POST /api/v1/bridge/fills. Its rows are read by
    core.plain_rows first (a thousand fills at DRF's pace would be most of
    the call's time); any row that is not plain has the whole body
    validated by DRF, naming every bad field."""

    rows_field = "fills"
    fills = FillSerializer(many=True, help_text=f"At most {MAX_ITEMS_PER_CALL}.")

    def to_internal_value(self, data):
        rows = data.get(self.rows_field) if isinstance(data, dict) else None
        if isinstance(rows, list) and len(rows) <= MAX_ITEMS_PER_CALL:
            read = PlainRows(self.fields[self.rows_field].child).read(rows)
            if read is not None:
                return {self.rows_field: read}
        return super().to_internal_value(data)


class BrokerPositionSerializer(serializers.Serializer):
    """An open position as the broker reports it. Kept as reported (JSON: the
    numbers as decimal strings), to be compared with the platform's."""

    ticket = _ticket()
    client_order_id = _optional_ticket()
    instrument = _instrument(help_text="The broker's symbol: a position opened outside the platform may be of "
                                       "an instrument the platform does not list.")
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    volume = AmountField(positive=True)
    open_price = AmountField(positive=True)
    open_time = serializers.DateTimeField()
    stop_loss = AmountField(positive=True, required=False, allow_null=True, default=None)
    take_profit = AmountField(positive=True, required=False, allow_null=True, default=None)
    profit = AmountField(required=False, default=Decimal(0))

    def validate(self, attrs):
        # JSON: the time in RFC 3339, the numbers as decimal strings.
        return {**attrs, **{name: format(value.normalize(), "f") for name, value in attrs.items()
                            if isinstance(value, Decimal)},
                "client_order_id": attrs["client_order_id"] or None, "open_time": rfc3339(attrs["open_time"])}


class AccountSerializer(_Batch):
    """The body of POST /api/v1/bridge/account: a snapshot of the account."""

    rows_field = "positions"
    time = ReportedTimeField(help_text="When the broker reported these figures; at most 300 s ahead of the "
                                       "server's clock.")
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="The account currency, ISO 4217 (upper case).")
    balance = AmountField()
    equity = AmountField()
    margin_free = AmountField()
    positions = BrokerPositionSerializer(many=True, help_text=f"The open positions; at most {MAX_ITEMS_PER_CALL}.")


# --- bridge answers ----------------------------------------------------------------

class SymbolsResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class FillsResultSerializer(serializers.Serializer):
    inserted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Fills this bridge had already sent (by fill_id).")


class AccountResultSerializer(serializers.Serializer):
    """The snapshot's reconciliation run, summed up."""

    snapshot = serializers.IntegerField(help_text="The stored snapshot's id.")
    positions = serializers.IntegerField(help_text="How many positions the broker reported.")
    status = serializers.ChoiceField(choices=ReconciliationRun.Status.choices, allow_null=True,
                                     help_text="The run's: `ok` when every position matches, else `drift`; null "
                                               "for a snapshot older than the newest (stored, not compared).")
    run = serializers.UUIDField(allow_null=True, help_text="The run's id (GET /api/v1/reconciliation/).")
    counts = serializers.DictField(child=serializers.IntegerField(),
                                   help_text='How many items of each kind the run has, e.g. {"match": 3}.')


class CommandSerializer(serializers.Serializer):
    """A command for the bridge; fields that do not apply to its type are null."""

    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Command.Type.choices)
    status = serializers.ChoiceField(choices=Command.Status.choices)
    client_order_id = serializers.CharField(max_length=CLIENT_ORDER_ID_MAX_LENGTH, allow_null=True)
    instrument = serializers.CharField()
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    volume = serializers.CharField(allow_null=True, help_text="Lots, a decimal string.")
    entry_price = serializers.CharField(allow_null=True)
    stop_loss = serializers.CharField(allow_null=True)
    take_profit = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    position_ticket = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, command):
        digits = command.instrument.digits
        return {
            "id": str(command.pk),
            "type": command.type,
            "status": command.status,
            "client_order_id": command.client_order_id,
            "instrument": command.instrument.symbol,
            "side": command.side,
            "volume": format_amount(command.volume),
            "entry_price": format_price(command.entry_price, digits),
            "stop_loss": format_price(command.stop_loss, digits),
            "take_profit": format_price(command.take_profit, digits),
            "expires_at": _time(command.expires_at),
            "position_ticket": command.position_ticket,
            "reason": command.reason,
            "created_at": rfc3339(command.created_at),
        }


class PollResultSerializer(serializers.Serializer):
    commands = CommandSerializer(many=True, help_text="Not yet acknowledged, oldest first.")


# --- the user's resources ----------------------------------------------------------

class OrderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    signal = serializers.UUIDField()
    approval = serializers.UUIDField()
    instrument = serializers.CharField()
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    volume = serializers.CharField(allow_null=True, help_text="Lots; null when denied before it was sized.")
    status = serializers.SerializerMethodField()
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Reason codes of a denial or rejection.")
    client_order_id = serializers.CharField()
    broker_ticket = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    def to_representation(self, order):
        return {
            "id": str(order.pk),
            "signal": str(order.signal_id),
            "approval": str(order.approval_id),
            "instrument": order.instrument.symbol,
            "side": order.side,
            "volume": format_amount(order.volume),
            "status": self.get_status(order),
            "reasons": order.reasons,
            "client_order_id": order.client_order_id,
            "broker_ticket": order.broker_ticket,
            "created_at": rfc3339(order.created_at),
            "expires_at": rfc3339(order.expires_at),
        }

    @extend_schema_field(serializers.ChoiceField(choices=Order.Status.choices))
    def get_status(self, order) -> str:
        return order.effective_status()


class PositionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Position.Status.choices)
    instrument = serializers.CharField()
    side = serializers.ChoiceField(choices=Signal.Side.choices)
    volume = serializers.CharField(help_text="Open volume now, lots.")
    open_price = serializers.CharField(help_text="Volume-weighted over the opening fills.")
    open_time = serializers.DateTimeField()
    stop_loss = serializers.CharField(allow_null=True)
    take_profit = serializers.CharField(allow_null=True)
    close_price = serializers.CharField(allow_null=True, help_text="Volume-weighted over the closing fills.")
    close_time = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.ChoiceField(choices=Position.CloseReason.choices, allow_null=True)
    realized_pnl = serializers.CharField(help_text="Profit, commission and swap of its fills.")
    unrealized_pnl = serializers.CharField(allow_null=True, help_text="The broker's, in the newest snapshot.")
    commission = serializers.CharField()
    swap = serializers.CharField()
    origin = serializers.ChoiceField(choices=Position.Origin.choices)
    signal = serializers.UUIDField(allow_null=True)
    order = serializers.UUIDField(allow_null=True)
    ticket = serializers.CharField(help_text="The broker's position ticket.")
    initial_risk = serializers.CharField(allow_null=True, help_text="Money lost at the stop when it opened.")

    def to_representation(self, position):
        digits = position.instrument.digits
        return {
            "id": str(position.pk),
            "status": position.status,
            "instrument": position.instrument.symbol,
            "side": position.side,
            "volume": format_amount(position.volume),
            "open_price": format_price(position.open_price, digits),
            "open_time": rfc3339(position.open_time),
            "stop_loss": format_price(position.stop_loss, digits),
            "take_profit": format_price(position.take_profit, digits),
            "close_price": format_price(position.close_price, digits),
            "close_time": _time(position.close_time),
            "close_reason": position.close_reason,
            "realized_pnl": format_amount(position.realized_pnl),
            "unrealized_pnl": format_amount(position.unrealized_pnl),
            "commission": format_amount(position.commission),
            "swap": format_amount(position.swap),
            "origin": position.origin,
            "signal": _id(position.signal_id),
            "order": _id(position.order_id),
            "ticket": position.ticket,
            "initial_risk": format_amount(position.initial_risk),
        }


class TradingStateSerializer(serializers.Serializer):
    """The user's kill switch: while paused, every new order is denied `paused`."""

    paused = serializers.BooleanField()
    paused_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, bridge):
        return {"paused": bridge.paused_at is not None, "paused_at": _time(bridge.paused_at)}


class ReconciliationItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReconciliationItem.Kind.choices)
    ticket = serializers.CharField(help_text="The broker's position ticket (the books' for `missing_at_broker`).")
    position = serializers.UUIDField(allow_null=True, help_text="The platform's position, when there is one.")
    expected = serializers.JSONField(allow_null=True, help_text="The books' view; null when they have nothing.")
    actual = serializers.JSONField(allow_null=True, help_text="The broker's report; null when it has nothing.")
    action = serializers.ChoiceField(choices=ReconciliationItem.Action.choices)

    def to_representation(self, item):
        return {"kind": item.kind, "ticket": item.ticket, "position": _id(item.position_id),
                "expected": item.expected, "actual": item.actual, "action": item.action}


class ReconciliationRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    time = serializers.DateTimeField(help_text="The snapshot's; for `stale`, when the account was found silent.")
    status = serializers.ChoiceField(choices=ReconciliationRun.Status.choices)
    items = ReconciliationItemSerializer(many=True)

    def to_representation(self, run):
        item = ReconciliationItemSerializer()
        return {"id": str(run.pk), "time": rfc3339(run.time), "status": run.status,
                "items": [item.to_representation(row) for row in run.items.all()]}


class AccountRiskSerializer(serializers.Serializer):
    """The account as the guards see it (execution.selectors.AccountRisk);
    the money figures are the newest snapshot's, open positions included."""

    mode = serializers.ChoiceField(choices=Mode.choices, help_text="halted, then paused, then reducing, then active.")
    equity = serializers.CharField(allow_null=True)
    high_water_mark = serializers.CharField(allow_null=True, help_text="The highest equity since the account "
                                                                       "started or staff last resumed it.")
    drawdown_percent = serializers.CharField(help_text="Below the high-water mark, in percent of it.")
    day_open_equity = serializers.CharField(allow_null=True, help_text="The equity of the UTC day's first snapshot.")
    daily_loss_percent = serializers.CharField(help_text="Below the day's opening equity, in percent of it.")
    open_positions = serializers.IntegerField()
    stale = serializers.BooleanField(help_text="The newest snapshot is too old to trust (or there is none).")
    since = serializers.DateTimeField(help_text="When the account entered this mode.")

    def to_representation(self, account):
        figures = account.figures.shown()
        return {
            "mode": account.mode,
            "equity": format_amount(figures["equity"]),
            "high_water_mark": format_amount(figures["high_water_mark"]),
            "drawdown_percent": format_amount(figures["drawdown_percent"]),
            "day_open_equity": format_amount(figures["day_open_equity"]),
            "daily_loss_percent": format_amount(figures["daily_loss_percent"]),
            "open_positions": account.open_positions,
            "stale": account.stale,
            "since": rfc3339(account.since),
        }


class RiskSerializer(serializers.Serializer):
    """GET /api/v1/risk/: the user's effective policy and their account's state."""

    policy = PolicySerializer()
    state = AccountRiskSerializer(allow_null=True, help_text="null: you have no enabled bridge.")

    def to_representation(self, risk):
        policy, account = risk
        return {"policy": PolicySerializer(policy).data,
                "state": None if account is None else AccountRiskSerializer(account).data}
