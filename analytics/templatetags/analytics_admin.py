from django import template

register = template.Library()

PERCENT = {"win_rate", "max_drawdown"}


@register.simple_tag
def figure(name, value):
    """A leaderboard cell: a percentage, a ratio to two places, a count, or
    "insufficient" for a null figure."""
    if value is None:
        return "insufficient"
    if name in PERCENT:
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
