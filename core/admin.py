"""Admin building blocks shared by the apps' consoles. Times and durations
are worded by core/display.py (date-time model fields through Django's
formats, computed values by calling it)."""

import json
import uuid

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody may add, change or remove from the console (what a
    strategy sent, decisions, audit entries): operators can only look."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class IdSearchMixin:
    """A search term that is a UUID finds the rows whose `id_search_fields`
    (the row's own id, the id of its signal, ...) hold it, instead of the
    text search: operators paste ids from API responses and audit entries."""

    id_search_fields = ["pk"]

    def get_search_results(self, request, queryset, search_term):
        try:
            wanted = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        matches = Q()
        for field in self.id_search_fields:
            matches |= Q(**{field: wanted})
        return queryset.filter(matches), False


def pretty_json(value):
    """JSON as an operator reads it: indented, keys sorted, non-ASCII as is,
    in a <pre>. Escaped: payloads and audit details are text that clients
    sent."""
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))
