"""The operators' console for execution: bridges, their symbols, and the
orders, commands, fills, positions and account snapshots of the trading loop,
and the reconciliation runs that compare the broker's positions with the books.

Bridges are added, rotated and disabled through execution.services (audited
as bridge.create/rotate/disable); a new secret is shown once, in the page
that answers the add or rotate request (machines/admin.py). Everything else
records what the platform asked for and what the broker did with real money:
operators read it, nobody edits or removes it here.
"""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from approvals.models import Approval
from core.admin import IdSearchMixin, ReadOnlyAdmin, pretty_json
from core.display import humane_duration, utc_time
from core.prices import format_price
from core.problems import Conflict
from execution import guards, selectors, services
from execution.models import (
    AccountSnapshot,
    AccountState,
    Bridge,
    Command,
    Fill,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
    Symbol,
)
from machines.admin import MachineClientAdmin
from risk.modes import Mode, guard_mode
from signals.models import Signal

# Money and volumes read as stored, with at least two decimal places ("0.10" lot, "12.50" USD).
AMOUNT_DIGITS = 2
NOTHING = "—"


def _changelist_links(models, **filters):
    """Links to the console lists of `models`, filtered by `filters`."""
    return format_html_join(" · ", '<a href="{}?{}">{}</a>', (
        (reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"), urlencode(filters),
         model._meta.verbose_name_plural) for model in models))


def link_display(model, field, description):
    """A column or field linking to the console page of the `model` row
    whose id is in `field`, named by that id (a dash when it is null)."""

    @admin.display(description=description)
    def show(self, row):
        pk = getattr(row, field)
        if pk is None:
            return NOTHING
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
        return format_html('<a href="{}">{}</a>', url, pk)

    return show


def _time_and_age(moment):
    """When, and how long ago: "2026-12-01 07:04:05 UTC (2 min 05 s ago)"."""
    if moment is None:
        return "never"
    return f"{utc_time(moment)} ({humane_duration(timezone.now() - moment)} ago)"


def price_display(field, description):
    """A price column or field at its instrument's quoted precision."""

    @admin.display(description=description, ordering=field)
    def show(self, row):
        return format_price(getattr(row, field), row.instrument.digits) or NOTHING

    return show


def amount_display(field, description):
    """An amount of money or a volume."""

    @admin.display(description=description, ordering=field)
    def show(self, row):
        return format_price(getattr(row, field), AMOUNT_DIGITS) or NOTHING

    return show


# --- Bridges and their symbols -------------------------------------------------


class BridgeCreationForm(forms.ModelForm):
    """The add form: the service's checks (one enabled bridge per owner, the
    currency code) shown on their fields."""

    class Meta:
        model = Bridge
        fields = ["name", "owner", "account_ref", "currency"]

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        if all(cleaned.get(name) is not None for name in ("owner", "account_ref", "currency")):
            errors = services.bridge_creation_errors(owner=cleaned["owner"], account_ref=cleaned["account_ref"],
                                                     currency=cleaned["currency"])
            for field, messages in errors.items():
                self.add_error(field, messages)
        return cleaned


class TradingFilter(admin.SimpleListFilter):
    title = "trading"
    parameter_name = "trading"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("paused", "paused by its owner")]

    def queryset(self, request, queryset):
        if self.value() in ("active", "paused"):
            return queryset.filter(paused_at__isnull=self.value() == "active")
        return queryset


class AccountFilter(admin.SimpleListFilter):
    """Enabled bridges by their account's mode under the guards now, or
    stale (the dashboard's account figures link here)."""

    title = "account"
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return [(group, group) for group in selectors.ACCOUNT_GROUPS]

    def queryset(self, request, queryset):
        if self.value() in selectors.ACCOUNT_GROUPS:
            return queryset.filter(selectors.accounts_in(self.value(), now=timezone.now()))
        return queryset


class ContactFilter(admin.SimpleListFilter):
    title = "contact"
    parameter_name = "contact"

    def lookups(self, request, model_admin):
        return [("silent", f"silent for over {humane_duration(selectors.BRIDGE_SILENT_AFTER)}")]

    def queryset(self, request, queryset):
        return queryset.filter(selectors.silent(now=timezone.now())) if self.value() == "silent" else queryset


@admin.register(Bridge)
class BridgeAdmin(MachineClientAdmin):
    list_display = ["name", "owner", "account_ref", "currency", "enabled", "paused", "last_poll", "last_snapshot",
                    "key_id", "created_at"]
    list_filter = ["enabled", TradingFilter, AccountFilter, ContactFilter, "currency"]
    list_select_related = ["owner"]
    search_fields = ["name", "key_id", "owner__username", "account_ref"]
    autocomplete_fields = ["owner"]
    creation_form = BridgeCreationForm
    creation_fields = ["name", "owner", "account_ref", "currency"]
    detail_fields = ["name", "owner", "key_id", "account_ref", "currency", "enabled", "paused", "paused_at",
                     "last_poll", "last_snapshot", "created_at", "disabled_at", "records"]

    def create_client(self, obj):
        return services.create_bridge(name=obj.name, owner=obj.owner, account_ref=obj.account_ref,
                                      currency=obj.currency)

    def rotate_client_secret(self, client):
        return services.rotate_bridge_secret(bridge=client)

    def disable_client(self, client):
        services.disable_bridge(bridge=client)

    @admin.display(description="paused", boolean=True, ordering="paused_at")
    def paused(self, bridge):
        return bridge.paused_at is not None

    @admin.display(description="last poll", ordering="last_poll_at")
    def last_poll(self, bridge):
        return _time_and_age(bridge.last_poll_at)

    @admin.display(description="last snapshot", ordering="last_snapshot_at")
    def last_snapshot(self, bridge):
        return _time_and_age(bridge.last_snapshot_at)

    @admin.display(description="records")
    def records(self, bridge):
        return _changelist_links([Symbol, Order, Command, Fill, Position, AccountSnapshot, ReconciliationRun],
                                 bridge__id__exact=bridge.pk)


@admin.register(Symbol)
class SymbolAdmin(ReadOnlyAdmin):
    """The broker's contract specs, as each bridge last reported them."""

    list_display = ["instrument", "bridge", "tick_size_shown", "tick_value_shown", "volume_min_shown",
                    "volume_step_shown", "volume_max_shown", "updated_at"]
    list_filter = ["bridge", "instrument"]
    list_select_related = ["bridge", "instrument"]
    search_fields = ["instrument__symbol", "bridge__name", "bridge__key_id"]
    fields = ["bridge", "instrument", "tick_size_shown", "tick_value_shown", "volume_min_shown",
              "volume_step_shown", "volume_max_shown", "updated_at", "signed_at"]
    readonly_fields = fields

    tick_size_shown = price_display("tick_size", "tick size")
    tick_value_shown = amount_display("tick_value", "tick value (account currency per lot)")
    volume_min_shown = amount_display("volume_min", "volume min")
    volume_step_shown = amount_display("volume_step", "volume step")
    volume_max_shown = amount_display("volume_max", "volume max")


# --- Orders and commands ---------------------------------------------------------


class EffectiveOrderStatusFilter(admin.SimpleListFilter):
    """By the status an order reads as (an unfilled order past its expiry is expired)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Order.Status.choices

    def queryset(self, request, queryset):
        return selectors.with_effective_status(queryset, self.value()) if self.value() else queryset


@admin.register(Order)
class OrderAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ["created_at", "instrument", "side", "volume_shown", "status_now", "owner", "bridge",
                    "client_order_id", "expires_at"]
    list_filter = [EffectiveOrderStatusFilter, "side", "bridge", "instrument",
                   ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["instrument", "owner", "bridge"]
    search_fields = ["client_order_id", "broker_ticket", "owner__username", "instrument__symbol"]
    search_help_text = "A client order id, a broker ticket, a username, an instrument, or an order, signal or " \
                       "approval id."
    id_search_fields = ["pk", "signal_id", "approval_id"]
    show_full_result_count = False
    fieldsets = [
        ("Order", {"fields": ["id", "status_now", "reasons_shown", "instrument", "side", "volume_shown",
                              "filled_volume_shown", "entry", "stop", "target", "client_order_id",
                              "broker_ticket", "created_at", "sent_at", "updated_at", "expires_at"]}),
        ("Risk", {"fields": ["initial_risk_shown", "equity_at_sizing_shown", "risk_policy_version"]}),
        ("Whose and why", {"fields": ["owner", "bridge", "signal_link", "approval_link", "records"]}),
    ]
    readonly_fields = [name for _, section in fieldsets for name in section["fields"]]

    volume_shown = amount_display("volume", "volume")
    filled_volume_shown = amount_display("filled_volume", "filled volume")
    entry = price_display("entry_price", "entry price")
    stop = price_display("stop_loss", "stop loss")
    target = price_display("take_profit", "take profit")
    initial_risk_shown = amount_display("initial_risk", "initial risk (money lost at the stop)")
    equity_at_sizing_shown = amount_display("equity_at_sizing", "equity at sizing")

    @admin.display(description="status")
    def status_now(self, order):
        return order.effective_status()

    @admin.display(description="reasons")
    def reasons_shown(self, order):
        return ", ".join(order.reasons) or NOTHING

    signal_link = link_display(Signal, "signal_id", "signal")
    approval_link = link_display(Approval, "approval_id", "approval")

    @admin.display(description="records")
    def records(self, order):
        return _changelist_links([Command, Fill, Position], order__id__exact=order.pk)


@admin.register(Command)
class CommandAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ["created_at", "type", "status", "instrument", "side", "volume_shown", "bridge",
                    "client_order_id", "position_ticket", "reason", "acked_at"]
    list_filter = ["status", "type", "bridge", "instrument"]
    list_select_related = ["instrument", "bridge"]
    search_fields = ["client_order_id", "broker_ticket", "position_ticket"]
    search_help_text = "A client order id, a broker ticket, a position ticket, or a command, order or position id."
    id_search_fields = ["pk", "order_id", "position_id"]
    show_full_result_count = False
    fields = ["id", "type", "status", "bridge", "instrument", "side", "volume_shown", "entry", "stop", "target",
              "expires_at", "client_order_id", "position_ticket", "reason", "broker_ticket", "error", "order_link",
              "position_link", "created_at", "sent_at", "acked_at", "spent_at"]
    readonly_fields = fields

    volume_shown = amount_display("volume", "volume")
    entry = price_display("entry_price", "entry price")
    stop = price_display("stop_loss", "stop loss")
    target = price_display("take_profit", "take profit")
    order_link = link_display(Order, "order_id", "order")
    position_link = link_display(Position, "position_id", "position")


# --- Fills, positions, account snapshots ---------------------------------------------


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ["time", "fill_id", "entry", "side", "instrument", "volume_shown", "price_shown", "profit_shown",
                    "bridge", "position_ticket", "client_order_id"]
    list_filter = ["entry", "side", "bridge", "instrument"]
    list_select_related = ["instrument", "bridge"]
    search_fields = ["fill_id", "client_order_id", "ticket", "position_ticket"]
    search_help_text = "A broker deal id, a client order id, an order ticket or a position ticket."
    show_full_result_count = False
    fields = ["fill_id", "bridge", "instrument", "side", "entry", "volume_shown", "price_shown", "time",
              "commission_shown", "swap_shown", "profit_shown", "client_order_id", "ticket", "position_ticket",
              "order_link", "position_link", "created_at"]
    readonly_fields = fields

    volume_shown = amount_display("volume", "volume")
    price_shown = price_display("price", "price")
    commission_shown = amount_display("commission", "commission")
    swap_shown = amount_display("swap", "swap")
    profit_shown = amount_display("profit", "profit")
    order_link = link_display(Order, "order_id", "order")
    position_link = link_display(Position, "position_id", "position")


@admin.register(Position)
class PositionAdmin(IdSearchMixin, ReadOnlyAdmin):
    """A position and, when a signal led to it, that signal's chart
    (templates/admin/execution/position/change_form.html)."""

    list_display = ["open_time", "instrument", "side", "volume_shown", "status", "origin", "owner", "bridge",
                    "ticket", "open_price_shown", "close_price_shown", "realized_pnl_shown", "close_reason"]
    list_filter = ["status", "origin", "side", "close_reason", "bridge", "instrument"]
    search_fields = ["ticket", "owner__username", "instrument__symbol"]
    search_help_text = "A position ticket, a username, an instrument, or a position, signal or order id."
    id_search_fields = ["pk", "signal_id", "order_id"]
    show_full_result_count = False
    fieldsets = [
        ("Position", {"fields": ["id", "status", "origin", "instrument", "side", "ticket", "volume_shown",
                                 "opened_volume_shown", "open_price_shown", "open_time", "stop", "target"]}),
        ("Close", {"fields": ["close_price_shown", "close_time", "close_reason"]}),
        ("Money", {"fields": ["realized_pnl_shown", "unrealized_pnl_shown", "commission_shown", "swap_shown",
                              "initial_risk_shown", "missed_snapshots"]}),
        ("Whose and why", {"fields": ["owner", "bridge", "signal_link", "order_link", "records", "created_at",
                                      "updated_at"]}),
    ]
    readonly_fields = [name for _, section in fieldsets for name in section["fields"]]

    volume_shown = amount_display("volume", "open volume")
    opened_volume_shown = amount_display("opened_volume", "opened volume")
    open_price_shown = price_display("open_price", "open price")
    close_price_shown = price_display("close_price", "close price")
    stop = price_display("stop_loss", "stop loss")
    target = price_display("take_profit", "take profit")
    realized_pnl_shown = amount_display("realized_pnl", "realized P&L")
    unrealized_pnl_shown = amount_display("unrealized_pnl", "unrealized P&L (newest snapshot)")
    commission_shown = amount_display("commission", "commission")
    swap_shown = amount_display("swap", "swap")
    initial_risk_shown = amount_display("initial_risk", "initial risk")

    def get_queryset(self, request):
        # The list's columns and the change page's chart (the signal and its
        # instrument) in one query; list_select_related would be ignored.
        return super().get_queryset(request).select_related("instrument", "owner", "bridge", "signal__instrument")

    signal_link = link_display(Signal, "signal_id", "signal")
    order_link = link_display(Order, "order_id", "order")

    @admin.display(description="records")
    def records(self, position):
        return _changelist_links([Fill, Command], position__id__exact=position.pk)


@admin.register(AccountSnapshot)
class AccountSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["time", "bridge", "currency", "balance_shown", "equity_shown", "margin_free_shown",
                    "positions_reported", "created_at"]
    list_filter = ["bridge", "currency"]
    list_select_related = ["bridge"]
    search_fields = ["bridge__name", "bridge__key_id", "bridge__account_ref"]
    show_full_result_count = False
    fields = ["bridge", "time", "currency", "balance_shown", "equity_shown", "margin_free_shown",
              "positions_reported", "positions_shown", "created_at"]
    readonly_fields = fields

    balance_shown = amount_display("balance", "balance")
    equity_shown = amount_display("equity", "equity")
    margin_free_shown = amount_display("margin_free", "free margin")

    @admin.display(description="open positions")
    def positions_reported(self, snapshot):
        return len(snapshot.positions)

    @admin.display(description="positions as the broker reported them")
    def positions_shown(self, snapshot):
        return pretty_json(snapshot.positions)


# --- Reconciliation ----------------------------------------------------------------


def json_display(field, description):
    """A JSON member of a row, indented; a dash when null."""

    @admin.display(description=description)
    def show(self, row):
        value = getattr(row, field)
        return NOTHING if value is None else pretty_json(value)

    return show


class ReconciliationItemInline(admin.TabularInline):
    model = ReconciliationItem
    fields = ["kind", "ticket", "position_link", "expected_shown", "actual_shown", "action"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    position_link = link_display(Position, "position_id", "position")
    expected_shown = json_display("expected", "expected (the books)")
    actual_shown = json_display("actual", "actual (the broker)")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Each snapshot's comparison with the books, and the silences."""

    list_display = ["time", "bridge", "status", "counts_shown", "created_at"]
    list_filter = ["status", "bridge"]
    list_select_related = ["bridge"]
    search_fields = ["bridge__name", "bridge__key_id", "items__ticket"]
    show_full_result_count = False
    fields = ["id", "bridge", "snapshot_link", "time", "status", "counts_shown", "created_at"]
    readonly_fields = fields
    inlines = [ReconciliationItemInline]

    @admin.display(description="items")
    def counts_shown(self, run):
        return ", ".join(f"{kind} {count}" for kind, count in run.counts.items()) or NOTHING

    snapshot_link = link_display(AccountSnapshot, "snapshot_id", "snapshot")

    def get_search_results(self, request, queryset, search_term):
        found, _ = super().get_search_results(request, queryset, search_term)
        return found.distinct(), False  # a ticket's items would repeat their run


class DriftFilter(admin.SimpleListFilter):
    title = "drift"
    parameter_name = "drift"

    def lookups(self, request, model_admin):
        return [("open", "open: not a match in its account's newest comparison")]

    def queryset(self, request, queryset):
        return queryset & selectors.open_drift_items() if self.value() == "open" else queryset


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdmin):
    """Every item of every run: filter by kind for the divergences, or the
    open ones (what the newest comparisons still find)."""

    list_display = ["run_time", "kind", "ticket", "action", "bridge", "position_link"]
    list_filter = [DriftFilter, "kind", "action", "run__status", "run__bridge"]
    list_select_related = ["run__bridge"]
    search_fields = ["ticket"]
    show_full_result_count = False
    fields = ["run_link", "kind", "ticket", "position_link", "expected_shown", "actual_shown", "action"]
    readonly_fields = fields

    position_link = link_display(Position, "position_id", "position")
    expected_shown = json_display("expected", "expected (the books)")
    actual_shown = json_display("actual", "actual (the broker)")

    @admin.display(description="time", ordering="run__time")
    def run_time(self, item):
        return utc_time(item.run.time)

    @admin.display(description="bridge")
    def bridge(self, item):
        return item.run.bridge

    run_link = link_display(ReconciliationRun, "run_id", "run")


# --- The account guards ------------------------------------------------------------


@admin.register(AccountState)
class AccountStateAdmin(ReadOnlyAdmin):
    """Each account's mode under the guards and the figures it was judged on.
    Only staff with the right to change account states may resume a halted
    account (audited as risk.mode_changed, reason `staff-resume`)."""

    list_display = ["bridge", "owner", "mode", "mode_now", "mode_since", "reducing_until", "equity_shown",
                    "high_water_mark_shown", "drawdown", "day_open_equity_shown", "daily_loss", "as_of"]
    list_filter = ["mode"]
    list_select_related = ["bridge__owner"]
    search_fields = ["bridge__name", "bridge__key_id", "bridge__owner__username"]
    fields = ["bridge", "owner", "mode", "mode_now", "mode_since", "reducing_until", "equity_shown",
              "high_water_mark_shown", "drawdown", "day", "day_open_equity_shown", "daily_loss",
              "drawdown_warned_at", "as_of", "updated_at"]
    readonly_fields = fields
    actions = ["resume"]

    equity_shown = amount_display("equity", "equity")
    high_water_mark_shown = amount_display("high_water_mark", "high-water mark")
    day_open_equity_shown = amount_display("day_open_equity", "day's opening equity")

    def has_resume_permission(self, request):
        return request.user.has_perm("execution.change_accountstate")

    @admin.display(description="owner", ordering="bridge__owner__username")
    def owner(self, state):
        return state.bridge.owner

    @admin.display(description="mode now")
    def mode_now(self, state):
        return guard_mode(state.mode, state.reducing_until, timezone.now())

    @admin.display(description="drawdown %")
    def drawdown(self, state):
        return state.figures().shown()["drawdown_percent"]

    @admin.display(description="daily loss %")
    def daily_loss(self, state):
        return state.figures().shown()["daily_loss_percent"]

    @admin.action(description="Resume the selected halted accounts", permissions=["resume"])
    def resume(self, request, queryset):
        resumed = 0
        for state in queryset.select_related("bridge"):
            if state.mode != Mode.HALTED:
                continue
            try:
                guards.resume_halted_account(bridge=state.bridge)
            except Conflict:
                continue  # resumed meanwhile, by another operator: it is not halted any more
            resumed += 1
        if resumed:
            self.message_user(request, f"Resumed {resumed} account(s); their high-water marks restart at "
                                       f"their newest equity.", messages.SUCCESS)
        if resumed < queryset.count():
            self.message_user(request, "Accounts that were not halted were left as they are.", messages.WARNING)
