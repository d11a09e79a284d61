"""Model fields stored the same way by every app."""

from django.db import models

# Prices, money and volumes: 20 digits, 8 of them decimal places, enough for
# any quoted price or account balance and for volumes down to 0.00000001 lot.
DECIMAL_MAX_DIGITS = 20
DECIMAL_PLACES = 8


def decimal_field(**options) -> models.DecimalField:
    """A price, an amount of money or a volume."""
    return models.DecimalField(max_digits=DECIMAL_MAX_DIGITS, decimal_places=DECIMAL_PLACES, **options)
