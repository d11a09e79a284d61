"""What the risk app announces; the audit log records each
(audit/handlers.py). Same keyword arguments as signals/events.py (`target`,
`meta`), each sent inside the transaction of the change it describes."""

from django.dispatch import Signal

policy_changed = Signal()  # target: the new version; meta: scope, version, before, after
market_hours_changed = Signal()  # target: the instrument's row; meta: instrument, before, after
