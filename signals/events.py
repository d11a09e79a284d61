"""What the signals app announces. The audit log records each (audit/handlers.py).

Every event is sent inside the transaction of the action it describes, with
keyword arguments `target` (the model instance, or None), `meta` (a dict) and,
when it differs from "success", `status`. `actor_type`/`actor` may be given
when the request context does not already say who acted (e.g. commands).
"""

from django.dispatch import Signal

producer_created = Signal()
producer_secret_rotated = Signal()
producer_disabled = Signal()
signal_created = Signal()
signal_replayed = Signal()
signal_ingest_denied = Signal()  # target None; meta {"reason", "key_id"}; never a body or signature
signal_expired = Signal()
