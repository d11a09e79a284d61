"""What the delivery app announces; same keyword arguments as
signals/events.py (`target`, `meta`, optionally `status`, `actor_type`,
`actor`), each sent inside the transaction of the write it describes. The
audit log records each (audit/handlers.py). `meta` names an endpoint by id
and by its URL's origin only: a URL's path or query may carry a receiver's
own token."""

from django.dispatch import Signal

webhook_created = Signal()  # meta: endpoint, origin, events
webhook_updated = Signal()  # meta: endpoint, origin, and each changed field (url as its origin)
webhook_secret_rotated = Signal()  # meta: endpoint, origin, grace_seconds
webhook_disabled = Signal()  # meta: endpoint, origin, reason; status "failure" when the sender gave up on it
webhook_deleted = Signal()  # meta: endpoint, origin
