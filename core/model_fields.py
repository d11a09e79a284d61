"""Model fields stored the same way by every app."""

from decimal import Decimal
from functools import cache

from django.db import connections, models

# Prices, money and volumes: 20 digits, 8 of them decimal places, enough for
# any quoted price or account balance and for volumes down to 0.00000001 lot.
DECIMAL_MAX_DIGITS = 20
DECIMAL_PLACES = 8
# SQLite, the embedded default, has no exact decimal type: it stores these
# as binary floating point, which gives back 15 significant digits exactly
# (a double's DBL_DIG) and silently rounds more ("123456789012.12345" came
# back as 123456789012.123). PostgreSQL's numeric keeps all of them.
SQLITE_SIGNIFICANT_DIGITS = 15


@cache
def _rounds_decimals() -> bool:
    return connections["default"].vendor == "sqlite"


def stored_exactly(value: Decimal) -> bool:
    """Whether the default database gives `value` back unchanged (at most
    DECIMAL_MAX_DIGITS and DECIMAL_PLACES assumed): always on PostgreSQL,
    within SQLITE_SIGNIFICANT_DIGITS on SQLite."""
    return not _rounds_decimals() or len(value.normalize().as_tuple().digits) <= SQLITE_SIGNIFICANT_DIGITS


def decimal_field(**options) -> models.DecimalField:
    """A price, an amount of money or a volume."""
    return models.DecimalField(max_digits=DECIMAL_MAX_DIGITS, decimal_places=DECIMAL_PLACES, **options)
