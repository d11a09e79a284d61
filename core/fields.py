"""The number fields of every API input: what a client sends is what it
means, or a 422 naming the field.

Python's Decimal() and int(), on which DRF's DecimalField and IntegerField
rely, read far more than plain numbers: digit separators ("1_08450" is
108450), the decimal digits of every script ("١٠" and "１０" are 10), a
leading "+", surrounding whitespace, and Decimal() exponents ("1e3"),
"NaN" and "Infinity". These fields read plain ASCII numbers only: an
optional "-", digits, and for a decimal an optional point and digits.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.model_fields import DECIMAL_MAX_DIGITS, DECIMAL_PLACES, SQLITE_SIGNIFICANT_DIGITS, stored_exactly

PLAIN_INTEGER = re.compile(r"-?[0-9]+")
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _is_json_integer(data) -> bool:
    return isinstance(data, int) and not isinstance(data, bool)


class StrictIntegerField(serializers.IntegerField):
    """An integer: a JSON integer, or (as query parameters always are) a
    string of ASCII digits. Not a JSON float, not even 1.0."""

    default_error_messages = {"invalid": "Must be an integer written with the ASCII digits 0-9, e.g. 12."}

    def to_internal_value(self, data):
        if not (_is_json_integer(data) or isinstance(data, str) and PLAIN_INTEGER.fullmatch(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """A decimal: a string of ASCII digits with an optional point ("1.08450"),
    or a JSON integer. Not a JSON float: parsed into a binary float, it holds
    most prices only approximately, and prices are decimal strings."""

    default_error_messages = {
        "invalid": 'Must be a decimal string of the ASCII digits 0-9 with an optional "-" and ".", '
                   'e.g. "1.08450": no exponent, "+", spaces, digit separators or JSON floats.',
    }

    def to_internal_value(self, data):
        if not (_is_json_integer(data) or isinstance(data, str) and PLAIN_DECIMAL.fullmatch(data)):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not stored_exactly(value):
            raise serializers.ValidationError(
                f"Must have at most {SQLITE_SIGNIFICANT_DIGITS} significant digits: this server runs on the "
                f"embedded SQLite database, which would round more (PostgreSQL keeps them all).")
        return value


class StrictDecimalFieldSchema(OpenApiSerializerFieldExtension):
    """Publishes the grammar the field reads: drf-spectacular's pattern for a
    DecimalField also admits "", "-", ".5" and "1."."""

    target_class = StrictDecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        places = self.target.decimal_places
        whole = self.target.max_digits - places
        return {"type": "string", "format": "decimal", "pattern": rf"^-?\d{{1,{whole}}}(?:\.\d{{1,{places}}})?$"}


class AmountField(StrictDecimalField):
    """A price, a volume or an amount of money, at the precision every table
    stores them with (core/model_fields.py); `positive`: greater than 0."""

    def __init__(self, *, positive=False, **kwargs):
        self.positive = positive
        super().__init__(max_digits=DECIMAL_MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if self.positive and value <= 0:
            raise serializers.ValidationError("Must be greater than 0.")
        return value


class ReportedTimeField(serializers.DateTimeField):
    """When a client says something happened: never later than the server's
    clock allows, by the drift a signed request's timestamp is allowed
    (SIGNATURE_TOLERANCE_SECONDS). A time far ahead (a clock gone wrong,
    local time sent as UTC) would pass for the newest of everything after it."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        tolerance = settings.SIGNATURE_TOLERANCE_SECONDS
        if moment > datetime.now(UTC) + timedelta(seconds=tolerance):
            raise serializers.ValidationError(f"Must not be more than {tolerance} s in the future.")
        return moment


def rfc3339(value: datetime) -> str:
    """A time as the API writes it (and as DRF's DateTimeField does): UTC, with Z.
    For the resources whose output is written by hand for speed."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
