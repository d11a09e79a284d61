"""Receivers of other apps' events."""

from execution import services


def place_order(sender, *, target, **kwargs):
    """An approval of a signal becomes an order (services decide whether the
    decision and the owner's bridge call for one)."""
    services.place_order_for_approval(approval=target)
