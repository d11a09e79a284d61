"""The operators' console for producers, the instrument whitelist and signals.

Producer writes go through signals.services (so they are audited as
producer.create/rotate/disable); a new secret is shown once, in the page
that answers the add or rotate request (machines/admin.py). Signals are
read-only: nothing a strategy sent can be edited here.
"""

from django.contrib import admin

from signals import selectors, services
from signals.models import Instrument, Producer, Signal
from core.admin import IdSearchMixin, ReadOnlyAdmin, pretty_json
from core.prices import format_price
from machines.admin import MachineClientAdmin


@admin.register(Producer)
class ProducerAdmin(MachineClientAdmin):
    list_display = ["name", "owner", "key_id", "enabled", "created_at", "disabled_at"]
    list_filter = ["enabled"]
    list_select_related = ["owner"]
    search_fields = ["name", "key_id", "owner__username"]
    autocomplete_fields = ["owner"]

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
              "expires_at", "created_at", "producer", "owner", "payload_formatted", "fingerprint"]
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
