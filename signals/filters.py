import django_filters

from signals.models import Signal
from signals.selectors import with_effective_status
from core.filters import UTCIsoDateTimeFilter


class SignalFilter(django_filters.FilterSet):
    """The signals list filters. `created_after` is inclusive, `created_before`
    exclusive, so consecutive windows neither overlap nor leave gaps."""

    status = django_filters.ChoiceFilter(choices=Signal.Status.choices, method="filter_status")
    instrument = django_filters.CharFilter(method="filter_instrument")
    side = django_filters.ChoiceFilter(choices=Signal.Side.choices)
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Signal
        fields = ["status", "instrument", "side", "created_after", "created_before"]

    def filter_status(self, queryset, name, value):
        return with_effective_status(queryset, value)

    def filter_instrument(self, queryset, name, value):
        return queryset.filter(instrument__symbol=value.strip().upper())
