"""How prices are shown: never rounded below what was stored."""

from decimal import Decimal


def format_price(value: Decimal | None, digits: int) -> str | None:
    """At least the instrument's quoted precision ("1.08450" for EURUSD), more
    when the value has more: a price is never rounded on the way out."""
    if value is None:
        return None
    # A row not read back from the database still holds what it was given: a
    # model default such as 0, or an int a caller passed for a price.
    value = value if isinstance(value, Decimal) else Decimal(value)
    exponent = value.normalize().as_tuple().exponent
    return f"{value:.{max(digits, -exponent)}f}"
