"""What the execution app announces; same keyword arguments as
signals/events.py (`target`, `meta`, optionally `status`, `actor_type`,
`actor`), each sent inside the transaction of the write it describes."""

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
position_close_requested = Signal()  # target: the position; meta: command, reason
command_acknowledged = Signal()
account_snapshot_recorded = Signal()
trading_paused = Signal()
trading_resumed = Signal()
reconciliation_recorded = Signal()  # target: the run; meta: bridge, snapshot, status, counts
# target: the bridge; meta: bridge, from, to, reason, until, and the account's figures
account_mode_changed = Signal()
drawdown_warning = Signal()  # target: the bridge; meta: bridge, threshold_percent, and the account's figures
