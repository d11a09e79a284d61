"""Asking the bridge to close a position: the owner's request, an order that
expired before its fill, the drawdown guard. The closes on their way cover
the position's open volume: asked again, a live close is returned while
they do; when the position grew meanwhile (a later part of a partial fill),
the rest is added to a close not delivered yet, or asked in a new one."""

from datetime import datetime
from decimal import Decimal

from execution import events
from execution.models import Command, Position

# A close asked for and not refused by the broker (yet): asking again returns it.
LIVE_CLOSE_STATUSES = (Command.Status.QUEUED, Command.Status.SENT, Command.Status.ACCEPTED)
# A close the broker refused: as if never asked.
REFUSED_CLOSE_STATUSES = (Command.Status.REJECTED, Command.Status.FAILED)


def request_close(position: Position, *, reason: str, now: datetime, volume: Decimal | None = None) -> Command:
    """A live `close` command of the position, covering with the others
    `volume` more of it (None: all of its open volume), created or raised
    for what they did not cover yet (audited as position.close_request).
    The caller holds the position's row lock or its bridge's."""
    live = list(position.commands.filter(type=Command.Type.CLOSE, status__in=LIVE_CLOSE_STATUSES)
                .order_by("created_at", "id"))
    uncovered = position.volume - sum(command.volume for command in live)
    rest = uncovered if volume is None else min(volume, uncovered)
    if rest <= 0:
        return live[0]
    unsent = next((command for command in live if command.status == Command.Status.QUEUED), None)
    if unsent is not None:
        unsent.volume += rest
        unsent.save(update_fields=["volume"])
        command = unsent
    else:
        command = Command.objects.create(bridge_id=position.bridge_id, position=position, type=Command.Type.CLOSE,
                                         instrument_id=position.instrument_id, side=position.side, volume=rest,
                                         position_ticket=position.ticket, reason=reason, created_at=now)
    events.position_close_requested.send(sender=Position, target=position,
                                         meta={"command": str(command.pk), "reason": reason, "ticket": position.ticket,
                                               "volume": command.volume})
    return command


def spend_closes(positions, *, now: datetime) -> None:
    """The positions went flat: the closes asked for them are spent. A
    ticket the broker opens again is a new life of its position, whose
    close reason and drawdown close they must not decide."""
    ids = [position.pk for position in positions]
    if ids:
        Command.objects.filter(position__in=ids, type=Command.Type.CLOSE, spent_at__isnull=True).update(spent_at=now)
