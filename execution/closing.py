"""Asking the bridge to close a position: the owner's request, an order that
expired before its fill, the drawdown guard. One `close` command per
position at a time: asked again, the live one is returned."""

from datetime import datetime

from execution import events
from execution.models import Command, Position

# A close asked for and not refused by the broker (yet): asking again returns it.
LIVE_CLOSE_STATUSES = (Command.Status.QUEUED, Command.Status.SENT, Command.Status.ACCEPTED)


def request_close(position: Position, *, reason: str, now: datetime) -> Command:
    """The position's live `close` command, or a new one for `reason`
    (audited as position.close_request). The caller holds the position's
    row lock or its bridge's."""
    live = position.commands.filter(type=Command.Type.CLOSE, status__in=LIVE_CLOSE_STATUSES).first()
    if live is not None:
        return live
    command = Command.objects.create(bridge_id=position.bridge_id, position=position, type=Command.Type.CLOSE,
                                     instrument_id=position.instrument_id, side=position.side, volume=position.volume,
                                     position_ticket=position.ticket, reason=reason, created_at=now)
    events.position_close_requested.send(sender=Position, target=position,
                                         meta={"command": str(command.pk), "reason": reason, "ticket": position.ticket,
                                               "volume": position.volume})
    return command
