"""Filters shared by the list endpoints."""

from datetime import timezone

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UTCIsoDateTimeField(IsoDateTimeField):
    """An RFC 3339 time, converted to UTC before it reaches the query.
    Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59:
    passed on as sent, `?created_before=2026-01-01T00:00:00-23:59` failed in
    the database (a 500). A time that has no UTC equivalent (year 1 east of
    Greenwich) is a 422."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise forms.ValidationError("The time is out of range.", code="invalid") from None


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField
