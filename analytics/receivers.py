"""Receivers of execution's events: the rollups follow the records in the
transaction that writes them (analytics/rollups.py)."""

from analytics import rollups
from execution import events


def position_closed(sender, *, target, **kwargs):
    rollups.record_closed_positions([target])


def position_revised(sender, *, target, meta, **kwargs):
    rollups.record_revised_positions([revision_of(target, meta)])


def revision_of(position, meta) -> rollups.Revision:
    return rollups.Revision(position=position, previous_close_time=meta["previous_close_time"],
                            previous_order=meta["previous_order"])


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
    folded together (their days folded again from the records with those of
    the revised positions, if any), then the late fills, which the rows'
    statement already asked about."""
    closed = [change.target for change in changes if change.event is events.position_closed]
    revised = [revision_of(change.target, change.meta) for change in changes
               if change.event is events.position_revised]
    for change in changes:
        if change.event is not events.fills_recorded:
            continue
        late = late_fills(bridge=change.target, fill_ids=change.meta["fill_ids"])
        found = _record_closes(closed, revised, late=late) if closed or revised else late is not None
        closed = revised = []
        if found:
            rollups.record_late_fills(bridge_id=change.target.pk, fill_times=rollups.late_fill_times(late))
    if closed or revised:
        _record_closes(closed, revised)


def _record_closes(closed, revised, *, late=None):
    if revised:
        return rollups.record_revised_positions(revised, closed=closed, late=late)
    return rollups.record_closed_positions(closed, late=late)


def connect():
    events.position_closed.connect(position_closed, dispatch_uid="analytics:position-closed")
    events.position_revised.connect(position_revised, dispatch_uid="analytics:position-revised")
    events.account_snapshot_recorded.connect(account_snapshot_recorded, dispatch_uid="analytics:snapshot")
    events.fills_recorded.connect(fills_recorded, dispatch_uid="analytics:fills")
    events.changes_recorded.connect(changes_recorded, dispatch_uid="analytics:changes")


def disconnect():
    """For the benchmark of the rollups' cost (bench/analytics_fill.py)."""
    events.position_closed.disconnect(dispatch_uid="analytics:position-closed")
    events.position_revised.disconnect(dispatch_uid="analytics:position-revised")
    events.account_snapshot_recorded.disconnect(dispatch_uid="analytics:snapshot")
    events.fills_recorded.disconnect(dispatch_uid="analytics:fills")
    events.changes_recorded.disconnect(dispatch_uid="analytics:changes")
