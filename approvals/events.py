"""What the approvals app announces; same keyword arguments as signals/events.py."""

from django.dispatch import Signal

approval_created = Signal()
consent_published = Signal()
