"""What the execution app announces; same keyword arguments as
signals/events.py (`target`, `meta`, optionally `status`, `actor_type`,
`actor`), each sent inside the transaction of the write it describes.

A write that changes many rows at once (a bridge's fills, the expiry
sweep, a poll) announces them with ONE `changes_recorded` event: its
`changes` are what the single events below would have said, in order, so a
receiver handles it exactly as it would those events one after another (the
audit log appends them as one segment of its chain)."""

from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

bridge_created = Signal()
bridge_secret_rotated = Signal()
bridge_disabled = Signal()
bridge_auth_denied = Signal()  # target None; meta {"reason", "key_id"}; never a body or signature
order_created = Signal()  # meta: status, reasons, volume, client_order_id, signal, approval
order_transitioned = Signal()  # meta: status (the new one), client_order_id, and what moved it
fills_recorded = Signal()  # target: the bridge; meta: inserted, duplicates, fill_ids (the new ones)
position_opened = Signal()
position_closed = Signal()
# target: a position announced closed before whose figures changed since (a
# late fill reopened it, or it closed again otherwise: the broker's closing
# deal after reconciliation closed it); meta: previous_close_time,
# previous_order (its order's id when it was closed, or None)
position_revised = Signal()
position_close_requested = Signal()  # target: the position; meta: command, reason
command_acknowledged = Signal()
account_snapshot_recorded = Signal()
trading_paused = Signal()
trading_resumed = Signal()
reconciliation_recorded = Signal()  # target: the run; meta: bridge, snapshot, status, counts
# target: the bridge; meta: bridge, from, to, reason, until, and the account's figures
account_mode_changed = Signal()
drawdown_warning = Signal()  # target: the bridge; meta: bridge, threshold_percent, and the account's figures
changes_recorded = Signal()  # changes: a list of Change, in order (see above)


@dataclass(frozen=True)
class Change:
    """One single event of a `changes_recorded` batch: `event` (e.g.
    order_transitioned) sent by `sender` about `target` with `meta`."""

    event: Signal
    sender: type
    target: Any
    meta: dict

    def send(self):
        return self.event.send(sender=self.sender, target=self.target, meta=self.meta)


def announce(changes: list[Change], *, sender: type) -> None:
    """Sends `changes`: one on its own, several as one `changes_recorded`.
    Send them last in the transaction: the audit receiver takes the chain's
    lock, after which the transaction must take no row lock."""
    if len(changes) == 1:
        changes[0].send()
    elif changes:
        changes_recorded.send(sender=sender, changes=changes)
