from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.utils import timezone

from audit.handlers import ACTIONS
from audit.models import AuditEntry
from core.admin import ReadOnlyAdmin, pretty_json


class AuditChangeList(ChangeList):
    def get_filters(self, request):
        """A date drill-down year past the calendar's (`?ts__year=10**22`)
        is a bad lookup, as Django makes of other bad dates: its datetime
        raises OverflowError, not the ValueError Django expects."""
        try:
            return super().get_filters(request)
        except OverflowError as error:
            raise IncorrectLookupParameters(error) from error


class ActionFilter(admin.SimpleListFilter):
    """The known actions, rather than Django's default SELECT DISTINCT, which
    reads the whole log's action index on every page of the list."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action, action) for action in ACTIONS]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class WrittenWithinFilter(admin.SimpleListFilter):
    """Entries of the last hour, day or week (the dashboard's refused
    ingests link here); a range of `ts`, on its index."""

    title = "written"
    parameter_name = "within"
    PERIODS = {"1h": ("in the last hour", timedelta(hours=1)), "24h": ("in the last 24 hours", timedelta(days=1)),
               "7d": ("in the last 7 days", timedelta(days=7))}

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.PERIODS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.PERIODS:
            return queryset.filter(ts__gte=timezone.now() - self.PERIODS[self.value()][1])
        return queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only for everyone, superusers included: entries are written by
    the audit receivers alone, and the database refuses edits anyway."""

    list_display = ["seq", "ts", "action", "status", "actor_type", "actor", "target_type", "target_id", "ip"]
    list_filter = [ActionFilter, WrittenWithinFilter, "status", "actor_type"]
    # Exact or prefix lookups only: they use the indexes; `icontains` would
    # scan the whole log on every search.
    search_fields = ["=actor", "=target_id", "=request_id", "^action"]
    date_hierarchy = "ts"
    ordering = ["-seq"]
    # Counting a log of millions of rows for the "n total" line is a full scan.
    show_full_result_count = False
    fields = ["seq", "ts", "action", "status", "actor_type", "actor", "target_type", "target_id", "ip",
              "user_agent", "request_id", "meta_formatted", "prev_hash", "hash"]
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return AuditChangeList

    @admin.display(description="meta")
    def meta_formatted(self, entry):
        return pretty_json(entry.meta)
