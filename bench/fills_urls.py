"""The production URLs, with execution's batch event (`changes_recorded`)
received by the audit log alone: delivery's outbox and analytics' rollups
disconnected. Diagnosis only (`python -m bench fills --audit-only`): how
much of the call is theirs. Never a measurement to report as the figure."""

from config.urls import urlpatterns
from execution import events

AUDIT_RECEIVER = "audit:execution.changes"

for key, *_ in list(events.changes_recorded.receivers):
    if key[0] != AUDIT_RECEIVER:
        events.changes_recorded.disconnect(dispatch_uid=key[0])

__all__ = ["urlpatterns"]
