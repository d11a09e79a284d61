"""Reads of the accounts app."""

from accounts.models import EndedSession


def session_has_ended(session_id: str) -> bool:
    return EndedSession.objects.filter(pk=session_id).exists()
