"""How prices are shown: never rounded below what was stored."""

from decimal import Decimal


def format_price(value: Decimal | None, digits: int) -> str | None:
    """At least the instrument's quoted precision ("1.08450" for EURUSD), more
    when the value has more: a price is never rounded on the way out."""
    if value is None:
        return None
    exponent = value.normalize().as_tuple().exponent
    return f"{value:.{max(digits, -exponent)}f}"
