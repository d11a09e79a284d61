"""What the signals app announces. The audit log records each (audit/handlers.py).

Every event is sent inside the transaction of the action it describes, with
keyword arguments `target` (the model instance, or None), `meta` (a dict) and,
when it differs from "success", `status`. `actor_type`/`actor` may be given
when the request context does not already say who acted (e.g. commands).
"""

import uuid
from typing import NamedTuple

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
# `signal_created` announces: each a `PublishedCopy`), `publication` (the
# owner's signal, whose content every copy shares) and `meta` (shared by
# every copy). Receivers write in bulk: there may be tens of thousands.
signals_published = Signal()
signal_replayed = Signal()
signal_ingest_denied = Signal()  # target None; meta {"reason", "key_id"}; never a body or signature
signal_expired = Signal()
subscription_created = Signal()  # meta {"producer", "user"}
subscription_deleted = Signal()  # meta {"producer", "user"}


class PublishedCopy(NamedTuple):
    """A copy `signals_published` announces: its id and its owner's, all that
    tells it from the publication. Not a model instance: building 10,000 of
    those cost the ingest call 0.15-0.17 s, and the receivers need no more (a
    receiver that does reads the rows, `origin` the publication)."""

    pk: uuid.UUID
    owner_id: uuid.UUID
