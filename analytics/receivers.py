"""Receivers of execution's events: the rollups follow the records in the
transaction that writes them (analytics/rollups.py)."""

from analytics import rollups
from execution import events


def position_closed(sender, *, target, **kwargs):
    rollups.record_closed_positions([target])


def account_snapshot_recorded(sender, *, target, **kwargs):
    # The bridge row as the snapshot's call locked it: its newest snapshot
    # time from before this one.
    rollups.record_snapshot(target, previous_newest=target.bridge.last_snapshot_at)


def fills_recorded(sender, *, target, meta, **kwargs):
    late = late_fills(bridge=target, fill_ids=meta["fill_ids"])
    if late is not None:
        rollups.record_late_fills(bridge_id=target.pk, fill_times=rollups.late_fill_times(late))


def late_fills(*, bridge, fill_ids) -> rollups.LateFills | None:
    """The new fills to check against the account's newest snapshot, whose
    balance may already hold them (None: no snapshot yet, or no fill)."""
    if bridge.last_snapshot_at is None or not fill_ids:
        return None
    return rollups.LateFills(bridge_id=bridge.pk, fill_ids=list(fill_ids), newest=bridge.last_snapshot_at)


def changes_recorded(sender, *, changes, **kwargs):
    """A batch of execution's changes (one fills call): the closed positions
    folded together, then the late fills, which the rows' statement already
    asked about."""
    closed = [change.target for change in changes if change.event is events.position_closed]
    for change in changes:
        if change.event is not events.fills_recorded:
            continue
        late = late_fills(bridge=change.target, fill_ids=change.meta["fill_ids"])
        found = rollups.record_closed_positions(closed, late=late) if closed else late is not None
        closed = []
        if found:
            rollups.record_late_fills(bridge_id=change.target.pk, fill_times=rollups.late_fill_times(late))
    if closed:
        rollups.record_closed_positions(closed)


def connect():
    events.position_closed.connect(position_closed, dispatch_uid="analytics:position-closed")
    events.account_snapshot_recorded.connect(account_snapshot_recorded, dispatch_uid="analytics:snapshot")
    events.fills_recorded.connect(fills_recorded, dispatch_uid="analytics:fills")
    events.changes_recorded.connect(changes_recorded, dispatch_uid="analytics:changes")


def disconnect():
    """For the benchmark of the rollups' cost (bench/analytics_fill.py)."""
    events.position_closed.disconnect(dispatch_uid="analytics:position-closed")
    events.account_snapshot_recorded.disconnect(dispatch_uid="analytics:snapshot")
    events.fills_recorded.disconnect(dispatch_uid="analytics:fills")
    events.changes_recorded.disconnect(dispatch_uid="analytics:changes")
