import django_filters

from core.filters import UTCIsoDateTimeFilter
from execution.models import Order, Position, ReconciliationRun
from execution.selectors import with_effective_status
from signals.models import Signal


class _ExecutionFilter(django_filters.FilterSet):
    """`created_after` inclusive, `created_before` exclusive, as every list's."""

    instrument = django_filters.CharFilter(method="filter_instrument")
    side = django_filters.ChoiceFilter(choices=Signal.Side.choices)
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    def filter_instrument(self, queryset, name, value):
        return queryset.filter(instrument__symbol=value.strip().upper())


class OrderFilter(_ExecutionFilter):
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, method="filter_status")

    class Meta:
        model = Order
        fields = ["status", "instrument", "side", "created_after", "created_before"]

    def filter_status(self, queryset, name, value):
        return with_effective_status(queryset, value)


class PositionFilter(_ExecutionFilter):
    status = django_filters.ChoiceFilter(choices=Position.Status.choices)
    origin = django_filters.ChoiceFilter(choices=Position.Origin.choices)

    class Meta:
        model = Position
        fields = ["status", "origin", "instrument", "side", "created_after", "created_before"]


class ReconciliationFilter(django_filters.FilterSet):
    """Staff narrow everyone's runs to one bridge (its key id) or one owner
    (a username); a user's own are narrowed the same way."""

    bridge = django_filters.CharFilter(field_name="bridge__key_id", help_text="A bridge's key id (brg_...).")
    user = django_filters.CharFilter(field_name="bridge__owner__username", help_text="The bridge owner's username.")
    status = django_filters.ChoiceFilter(choices=ReconciliationRun.Status.choices)

    class Meta:
        model = ReconciliationRun
        fields = ["bridge", "user", "status"]
