"""Reading a large batch of rows (a bridge's 1000 fills) without DRF's
per-field machinery, which costs about 10 µs per field of every row: with
13 fields, 0.13 s for 1000 fills, more than storing them takes.

`PlainRows(serializer)` reads each row the way `serializer` would, for the
plain values clients send (ASCII strings, decimal strings, RFC 3339 times),
and gives up on anything else: `read` returns None as soon as a value is
not plain or not valid, and the caller then validates the whole batch with
the serializer, whose errors name every bad field as usual. So a batch is
either read here to exactly the values the serializer would return, or by
the serializer itself; what is accepted never depends on which.

Only the field types below are read here (PlainRows refuses a serializer
with any other): CharField, ChoiceField, core.fields.AmountField and
DateTimeField, with DRF's defaults otherwise (trimmed strings, the
project's ISO 8601 times).
"""

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from rest_framework import serializers
from rest_framework.fields import empty

from core.fields import AmountField
from core.model_fields import stored_exactly


class NotPlain(Exception):
    """A value PlainRows leaves to the serializer."""


def _text(field: serializers.CharField) -> Callable:
    # ASCII: no surrogate to refuse; no NUL either: the validators DRF adds
    # to every CharField then have nothing to find.
    def read(value):
        if value is None and field.allow_null:
            return None
        if type(value) is not str or not value.isascii() or "\x00" in value:
            raise NotPlain
        value = value.strip() if field.trim_whitespace else value
        if not value and not field.allow_blank or field.max_length is not None and len(value) > field.max_length:
            raise NotPlain
        return value

    # DRF's own: the maximum length, and no NUL or surrogate.
    if field.min_length is not None or len(field.validators) != 2 + (field.max_length is not None):
        raise TypeError(f"{field.field_name}: a CharField with validators of its own")
    return read


def _choice(field: serializers.ChoiceField) -> Callable:
    choices = field.choice_strings_to_values

    def read(value):
        if type(value) is not str or value not in choices:
            raise NotPlain
        return choices[value]

    return read


def _amount(field: AmountField) -> Callable:
    # core.fields' grammar (PLAIN_DECIMAL) within the field's digits before
    # and after the point: then the value is exact at the field's precision,
    # and quantizing it cannot round: DRF's value.
    plain = re.compile(rf"-?[0-9]{{1,{field.max_digits - field.decimal_places}}}"
                       rf"(?:\.[0-9]{{1,{field.decimal_places}}})?")
    quantum = Decimal(1).scaleb(-field.decimal_places)

    def read(value):
        if type(value) is not str or not plain.fullmatch(value):
            raise NotPlain
        number = Decimal(value).quantize(quantum)
        if field.positive and number <= 0 or not stored_exactly(number):
            raise NotPlain
        return number

    return read


def _time(field: serializers.DateTimeField) -> Callable:
    # What DRF's ISO 8601 reading does first (django.utils.dateparse.parse_datetime
    # tries fromisoformat before its own pattern), then its time zone for an
    # aware time (DateTimeField.enforce_timezone); a time without its offset
    # is left to DRF, which reads it in the current time zone.
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()

    def read(value):
        if type(value) is not str:
            raise NotPlain
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.utcoffset() is None:
                raise NotPlain
            return parsed.astimezone(zone)
        except (ValueError, OverflowError):
            raise NotPlain from None

    if getattr(field, "input_formats", None) is not None or zone is None:
        raise TypeError(f"{field.field_name}: input_formats, or no time zone")
    return read


def _reader(field: serializers.Field) -> Callable:
    if isinstance(field, AmountField):
        if field.validators or field.localize or field.max_value is not None or field.min_value is not None:
            raise TypeError(f"{field.field_name}: an AmountField with limits of its own")
        return _amount(field)
    if isinstance(field, serializers.ChoiceField):
        if field.allow_blank or field.allow_null or field.validators:
            raise TypeError(f"{field.field_name}: a ChoiceField that may be blank or null")
        return _choice(field)
    if type(field) is serializers.DateTimeField:
        return _time(field)
    if type(field) is serializers.CharField:
        return _text(field)
    raise TypeError(f"{field.field_name}: {type(field).__name__} is not read by PlainRows")


class PlainRows:
    """Reads rows as `serializer` (a Serializer with the field types above
    and at most a `validate` of its own) would, or gives up (None)."""

    def __init__(self, serializer: serializers.Serializer):
        if serializer.validators or any(
                field.read_only or field.source != name or not field.required and field.default is empty
                for name, field in serializer.fields.items()):
            raise TypeError("PlainRows reads serializers without validators whose fields are written as named "
                            "and have defaults when optional")
        self.serializer = serializer
        self.fields = [(name, _reader(field), field.required, field.get_default if not field.required else None)
                       for name, field in serializer.fields.items()]

    def read(self, rows) -> list[dict] | None:
        if type(rows) is not list:
            return None
        validate, read_rows = self.serializer.validate, []
        try:
            for row in rows:
                if type(row) is not dict:
                    return None
                values = {}
                for name, read, required, default in self.fields:
                    value = row.get(name, empty)
                    if value is empty:
                        if required:
                            return None
                        values[name] = default()
                    else:
                        values[name] = read(value)
                read_rows.append(validate(values))
        except (NotPlain, serializers.ValidationError):  # the serializer's `validate` refused one: DRF says why
            return None
        return read_rows
