"""The operators' console for risk: the policy's versions (the defaults and
each user's override) and the instruments' market hours.

Saving a policy form never edits a version: risk.services adds the scope's
next version (audited with before and after) and the page moves to it.
Superseded versions are history: read-only, like everything audited.
"""

from django import forms
from django.contrib import admin

from risk import policy, services
from risk.models import MarketHours, RiskPolicy


class RiskPolicyForm(forms.ModelForm):
    """The service's checks (bounds; the defaults need every setting) shown
    on their fields."""

    class Meta:
        model = RiskPolicy
        fields = ["user", *policy.NAMES]

    def clean(self):
        cleaned = super().clean()
        user = self.instance.user if self.instance.pk else cleaned.get("user")
        values = {name: cleaned.get(name) for name in policy.NAMES}
        for name, messages in services.policy_errors(user=user, values=values).items():
            if name not in self.errors:
                self.add_error(name, messages)
        return cleaned


class CurrentFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", "in force"), ("no", "superseded")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(superseded_at__isnull=self.value() == "yes")
        return queryset


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [("defaults", "operators' defaults"), ("override", "users' overrides")]

    def queryset(self, request, queryset):
        if self.value() in ("defaults", "override"):
            return queryset.filter(user__isnull=self.value() == "defaults")
        return queryset


@admin.register(RiskPolicy)
class RiskPolicyAdmin(admin.ModelAdmin):
    form = RiskPolicyForm
    list_display = ["version", "scope", *policy.NAMES, "in_force", "changed_by", "created_at"]
    list_filter = [CurrentFilter, ScopeFilter]
    list_select_related = ["user", "changed_by"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
    readonly_fields = ["version", "changed_by", "created_at", "superseded_at"]

    def get_fields(self, request, obj=None):
        return ["user", *policy.NAMES] if obj is None else ["version", "user", *policy.NAMES, "changed_by",
                                                              "created_at", "superseded_at"]

    def get_readonly_fields(self, request, obj=None):
        # A version's scope is fixed; a superseded version is history.
        return self.readonly_fields + (["user"] if obj is not None else [])

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.superseded_at is None)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        version = services.set_policy(user=obj.user, values={name: getattr(obj, name) for name in policy.NAMES},
                                      changed_by=request.user)
        # The page, and the console's log of the change, now name the new version.
        for field in RiskPolicy._meta.concrete_fields:
            setattr(obj, field.attname, getattr(version, field.attname))
        obj._state.adding = False

    @admin.display(description="scope", ordering="user__username")
    def scope(self, version):
        return "defaults" if version.user_id is None else f"override of {version.user}"

    @admin.display(description="in force", boolean=True, ordering="superseded_at")
    def in_force(self, version):
        return version.superseded_at is None


@admin.register(MarketHours)
class MarketHoursAdmin(admin.ModelAdmin):
    """Instruments without a row follow the MARKET_HOURS_DEFAULT setting."""

    list_display = ["instrument", "schedule", "updated_at"]
    list_filter = ["schedule"]
    search_fields = ["instrument__symbol"]
    fields = ["instrument", "schedule", "updated_at"]
    readonly_fields = ["updated_at"]
    autocomplete_fields = ["instrument"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["instrument"] if obj is not None else [])

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        row = services.set_market_hours(instrument=obj.instrument, schedule=obj.schedule)
        obj.updated_at = row.updated_at
