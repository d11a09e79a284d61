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
producer_updated = Signal()  # meta {"name", and each changed field: "public", "max_lag_seconds"}
producer_alert_token_rotated = Signal()  # meta {"name"}; never the token
# The owner's signal of a new publication (the producer's owner's feed).
signal_created = Signal()
# Its copies in subscribers' feeds, when it reached any: one event for all of
# them, with keyword arguments `signals` (the copies, never the owner's, which
# `signal_created` announces; each with `owner_id`, its owner not loaded),
# `publication` (the owner's signal) and `meta` (shared by every copy).
# Receivers write in bulk: there may be tens of thousands.
signals_published = Signal()
signal_replayed = Signal()
signal_ingest_denied = Signal()  # target None; meta {"reason", "key_id"}; never a body or signature
signal_expired = Signal()
subscription_created = Signal()  # meta {"producer", "user"}
subscription_deleted = Signal()  # meta {"producer", "user"}
