"""The operators' console for approvals (`/admin/`, staff only).

Operators review decisions; they never make, change or remove one, so every
admin here is read-only, superusers included. The one write is publishing a
new consent version, which goes through the service (and the audit log).
"""

import uuid

from django.contrib import admin
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from approvals import selectors, services
from approvals.exports import approvals_csv
from approvals.models import Approval, ConsentText, PendingSignal
from signals.models import Signal
from core.admin import ReadOnlyAdmin, pretty_json
from core.display import humane_duration, utc_time
from core.prices import format_price


def _price(signal: Signal, field: str) -> str:
    return format_price(getattr(signal, field), signal.instrument.digits) or "—"


def _signal_link(signal: Signal):
    try:
        url = reverse(f"admin:{Signal._meta.app_label}_{Signal._meta.model_name}_change", args=[signal.pk])
    except NoReverseMatch:  # the signals app's admin is not registered
        return str(signal.pk)
    return format_html('<a href="{}">{}</a>', url, signal.pk)


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["decided", "decision", "user", "instrument", "side", "consent_version", "ip"]
    list_filter = ["decision", ("created_at", admin.DateFieldListFilter), "consent_version"]
    search_fields = ["user__username", "signal__instrument__symbol"]
    search_help_text = "A username, an instrument, or a signal id (or approval id)."
    ordering = ["-created_at", "-id"]
    show_full_result_count = False  # a COUNT(*) over all decisions on every page load buys nothing
    actions = ["export_csv"]
    fieldsets = [
        ("Decision", {"fields": ["id", "user", "decision", "consent_version", "reason", "decided",
                                 "time_to_decide", "ip", "user_agent"]}),
        ("Signal", {"fields": ["signal_link", "instrument", "side", "entry_price", "stop_loss", "take_profit",
                               "signal_time", "signal_received", "signal_expires", "signal_status", "producer",
                               "owner", "payload"]}),
    ]
    readonly_fields = [name for _, section in fieldsets for name in section["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "signal__instrument", "signal__producer",
                                                            "signal__owner")

    def get_search_results(self, request, queryset, search_term):
        try:
            wanted = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(signal_id=wanted) | Q(pk=wanted)), False

    @admin.action(description="Export selected approvals as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return approvals_csv(queryset)

    @admin.display(description="decided", ordering="created_at")
    def decided(self, approval):
        return utc_time(approval.created_at)

    @admin.display(description="instrument", ordering="signal__instrument__symbol")
    def instrument(self, approval):
        return approval.signal.instrument.symbol

    @admin.display(description="side")
    def side(self, approval):
        return approval.signal.side

    @admin.display(description="time to decide")
    def time_to_decide(self, approval):
        return humane_duration(approval.created_at - approval.signal.created_at)

    @admin.display(description="signal")
    def signal_link(self, approval):
        return _signal_link(approval.signal)

    @admin.display(description="entry price")
    def entry_price(self, approval):
        return _price(approval.signal, "entry_price")

    @admin.display(description="stop loss")
    def stop_loss(self, approval):
        return _price(approval.signal, "stop_loss")

    @admin.display(description="take profit")
    def take_profit(self, approval):
        return _price(approval.signal, "take_profit")

    @admin.display(description="produced at")
    def signal_time(self, approval):
        return utc_time(approval.signal.time)

    @admin.display(description="received at")
    def signal_received(self, approval):
        return utc_time(approval.signal.created_at)

    @admin.display(description="expires at")
    def signal_expires(self, approval):
        return utc_time(approval.signal.expires_at)

    @admin.display(description="signal status")
    def signal_status(self, approval):
        return approval.signal.effective_status()

    @admin.display(description="producer")
    def producer(self, approval):
        return approval.signal.producer.name

    @admin.display(description="owner")
    def owner(self, approval):
        return approval.signal.owner.username

    @admin.display(description="strategy payload")
    def payload(self, approval):
        return pretty_json(approval.signal.payload)


@admin.register(PendingSignal)
class PendingSignalAdmin(ReadOnlyAdmin):
    """Signals still awaiting their owner's decision, the soonest to expire first."""

    list_display = ["expires_at", "expires_in", "instrument", "side", "owner", "producer", "entry", "created_at"]
    list_select_related = ["instrument", "owner", "producer"]
    search_fields = ["owner__username", "instrument__symbol"]
    show_full_result_count = False
    fields = ["id", "instrument", "side", "entry", "stop", "target", "time", "created_at", "expires_at", "owner",
              "producer", "version", "payload_formatted"]
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.pending_signals(super().get_queryset(request))

    def get_ordering(self, request):
        return ["expires_at", "id"]

    @admin.display(description="expires in")
    def expires_in(self, signal):
        return humane_duration(signal.expires_at - timezone.now())

    @admin.display(description="entry price")
    def entry(self, signal):
        return _price(signal, "entry_price")

    @admin.display(description="stop loss")
    def stop(self, signal):
        return _price(signal, "stop_loss")

    @admin.display(description="take profit")
    def target(self, signal):
        return _price(signal, "take_profit")

    @admin.display(description="payload")
    def payload_formatted(self, signal):
        return pretty_json(signal.payload)


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """Operators add versions; a published one is shown, never edited or removed."""

    list_display = ["version", "published_at", "published_by"]
    search_fields = ["version", "text"]
    fields = ["version", "text", "published_at", "published_by"]
    readonly_fields = ["published_at", "published_by"]
    list_select_related = ["published_by"]

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else ["version", "text"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        published = services.publish_consent(text=obj.text, version=obj.version, by=request.user)
        # The admin goes on with `obj` (its change message and redirect): make it the stored row.
        obj.__dict__.update(published.__dict__)
