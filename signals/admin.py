"""The operators' console for producers, the instrument whitelist and signals.

Producer writes go through signals.services (so they are audited as
producer.create/rotate/disable); a new secret is shown once, in the page
that answers the add or rotate request (machines/admin.py). Signals and
subscriptions are read-only: nothing a strategy sent can be edited here,
and users subscribe through the API. Each producer's page lists its
subscribers.
"""

from django.contrib import admin
from django.db.models import Count

from signals import selectors, services
from signals.models import Instrument, Producer, Signal, Subscription
from core.admin import IdSearchMixin, ReadOnlyAdmin, pretty_json
from core.prices import format_price
from machines.admin import MachineClientAdmin


class SubscriptionInline(admin.TabularInline):
    """Who receives the producer's signals (read-only: users subscribe
    through the API, which audits it)."""

    model = Subscription
    fields = ["user", "active", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "producer")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="receives its signals")
    def active(self, subscription):
        return subscription.active


@admin.register(Producer)
class ProducerAdmin(MachineClientAdmin):
    list_display = ["name", "owner", "key_id", "enabled", "public", "subscriber_count", "created_at", "disabled_at"]
    list_filter = ["enabled", "public"]
    list_select_related = ["owner"]
    search_fields = ["name", "key_id", "owner__username"]
    autocomplete_fields = ["owner"]
    detail_fields = [*MachineClientAdmin.detail_fields, "public", "max_lag_seconds", "subscriber_count",
                     "alert_token_created_at"]
    inlines = [SubscriptionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subscriber_count=Count("subscriptions"))

    @admin.display(description="subscribers", ordering="subscriber_count")
    def subscriber_count(self, producer):
        return producer.subscriber_count

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def create_client(self, obj):
        return services.create_producer(name=obj.name, owner=obj.owner)

    def rotate_client_secret(self, client):
        return services.rotate_producer_secret(producer=client)

    def disable_client(self, client):
        services.disable_producer(producer=client)


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "description", "digits", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["enabled"]
    search_fields = ["symbol", "description"]
    fields = ["symbol", "description", "digits", "enabled", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # Signals refer to the symbol; retiring one means disabling it.
        return ["created_at"] if obj is None else ["symbol", "created_at"]


class EffectiveStatusFilter(admin.SimpleListFilter):
    """By the status a signal reads as (a lapsed pending signal is expired)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Signal.Status.choices

    def queryset(self, request, queryset):
        return selectors.with_effective_status(queryset, self.value()) if self.value() else queryset


@admin.register(Signal)
class SignalAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ["time", "instrument", "side", "status_now", "owner", "producer", "version", "created_at"]
    list_filter = [EffectiveStatusFilter, "side", "instrument", "producer", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["instrument", "owner", "producer"]
    search_fields = ["instrument__symbol", "producer__name", "owner__username"]
    search_help_text = "An instrument, a producer, a username, or a signal id."
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    fields = ["id", "status_now", "instrument", "side", "time", "version", "entry", "stop", "target",
              "expires_at", "created_at", "producer", "owner", "origin", "deliveries", "payload_formatted",
              "fingerprint"]
    readonly_fields = fields

    @admin.display(description="status")
    def status_now(self, signal):
        return signal.effective_status()

    @admin.display(description="entry price")
    def entry(self, signal):
        return format_price(signal.entry_price, signal.instrument.digits)

    @admin.display(description="stop loss")
    def stop(self, signal):
        return format_price(signal.stop_loss, signal.instrument.digits) or "—"

    @admin.display(description="take profit")
    def target(self, signal):
        return format_price(signal.take_profit, signal.instrument.digits) or "—"

    @admin.display(description="payload")
    def payload_formatted(self, signal):
        return pretty_json(signal.payload)


@admin.register(Subscription)
class SubscriptionAdmin(IdSearchMixin, ReadOnlyAdmin):
    list_display = ["producer", "user", "active", "created_at"]
    list_filter = ["producer"]
    list_select_related = ["producer", "user"]
    search_fields = ["producer__name", "user__username"]
    search_help_text = "A producer, a username, or a subscription id."
    fields = ["id", "producer", "user", "active", "created_at"]
    readonly_fields = fields

    @admin.display(boolean=True, description="receives its signals")
    def active(self, subscription):
        return subscription.active
