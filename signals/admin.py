"""The operators' console for producers, the instrument whitelist and signals.

Producer writes go through signals.services (so they are audited as
producer.create/rotate/disable); a secret appears once, in the message after
the action that made it. Signals are read-only: nothing a strategy sent can be
edited here.
"""

import json
import uuid

from django.contrib import admin, messages
from django.utils.html import format_html

from signals import selectors, services
from signals.models import Instrument, Producer, Signal
from signals.serializers import format_price
from core.admin import ReadOnlyAdmin


def show_secret_once(request, producer: Producer, secret: str, what: str):
    messages.warning(request, format_html(
        "{} for producer “{}” (key id <code>{}</code>): <code>{}</code> — copy it now, it is not shown again.",
        what, producer.name, producer.key_id, secret))


@admin.register(Producer)
class ProducerAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "key_id", "enabled", "created_at", "disabled_at"]
    list_filter = ["enabled"]
    list_select_related = ["owner"]
    search_fields = ["name", "key_id", "owner__username"]
    autocomplete_fields = ["owner"]
    actions = ["rotate_secret", "disable"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "owner"]
        return ["name", "owner", "key_id", "enabled", "created_at", "disabled_at"]

    def get_readonly_fields(self, request, obj=None):
        # After creation every change is an action (rotate, disable), each audited.
        return [] if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # its signals and audit entries refer to it; disable it instead

    def save_model(self, request, obj, form, change):
        if change:
            return
        producer, secret = services.create_producer(name=obj.name, owner=obj.owner)
        # The admin goes on with `obj` (its log entry, the redirect): make it the stored producer.
        obj.__dict__.update({k: v for k, v in producer.__dict__.items() if k != "_state"})
        obj._state.adding, obj._state.db = False, producer._state.db
        show_secret_once(request, producer, secret, "Secret")

    @admin.action(description="Rotate secret (old secrets keep working for 24 h)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for producer in queryset.filter(enabled=True):
            secret = services.rotate_producer_secret(producer=producer)
            show_secret_once(request, producer, secret, "New secret")

    @admin.action(description="Disable (its requests are refused from now on)", permissions=["change"])
    def disable(self, request, queryset):
        for producer in queryset.filter(enabled=True):
            services.disable_producer(producer=producer)
            self.message_user(request, f"Producer “{producer.name}” disabled.")


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
class SignalAdmin(ReadOnlyAdmin):
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

    def get_search_results(self, request, queryset, search_term):
        try:
            wanted = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=wanted), False

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
        return format_html("<pre>{}</pre>", json.dumps(signal.payload, indent=2, sort_keys=True, ensure_ascii=False))
