"""The operators' console for push delivery: webhook endpoints (an operator
may disable one, through delivery.services, audited like its owner's own
change), their deliveries and attempts, and the event outbox. What was sent
and what the receivers answered is a record: nobody edits it here. A secret
is never shown."""

from django.contrib import admin, messages

from core.admin import IdSearchMixin, ReadOnlyAdmin, pretty_json
from delivery import services
from delivery.addresses import origin_of
from delivery.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = readonly_fields = ["started_at", "duration_ms", "status_code", "error", "succeeded"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(IdSearchMixin, ReadOnlyAdmin):
    # The URL's origin only, as the audit log: its path or query may carry the
    # receiver's own token, which no operator needs (nor may search for).
    list_display = ["id", "owner", "origin", "enabled", "consecutive_failures", "failing_since", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["owner__username"]
    fields = ["id", "owner", "origin", "events", "enabled", "disabled_at", "disabled_reason", "consecutive_failures",
              "failing_since", "paused_until", "previous_secret_expires_at", "created_at"]
    readonly_fields = fields
    actions = ["disable"]

    @admin.display(description="URL (origin)")
    def origin(self, endpoint):
        return origin_of(endpoint.url)

    def lookup_allowed(self, lookup, value, request):
        # A filter on the URL's text from the address bar would search it all the same.
        return not (lookup == "url" or lookup.startswith("url__")) and super().lookup_allowed(lookup, value, request)

    def has_disable_permission(self, request):
        return request.user.has_perm("delivery.change_webhookendpoint")

    @admin.action(description="Disable the selected endpoints (their unsent deliveries fail)",
                  permissions=["disable"])
    def disable(self, request, queryset):
        endpoints = list(queryset.filter(enabled=True))
        for endpoint in endpoints:
            services.update_endpoint(endpoint=endpoint, enabled=False)
        messages.success(request, f"Disabled {len(endpoints)} endpoint(s).")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "endpoint", "event", "status", "attempts", "next_attempt_at", "last_status_code",
                    "created_at"]
    list_filter = ["status"]
    search_fields = ["endpoint__owner__username"]
    list_select_related = ["endpoint__owner", "event"]  # the endpoint's name shows its owner
    inlines = [AttemptInline]
    fields = ["id", "endpoint", "event", "status", "attempts", "tries", "next_attempt_at", "lease_until",
              "last_status_code", "last_error", "created_at", "finished_at"]
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = ["id", "user", "type", "created_at", "payload_shown"]
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_shown(self, event):
        return pretty_json(event.payload)
