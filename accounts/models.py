import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

# The JWT claim naming the login session a token belongs to: set at login,
# kept by every refresh token rotated from it and every access token issued
# with them.
SESSION_CLAIM = "sid"


class User(AbstractUser):
    """Django's user with a UUID id: the API's ids are UUID strings, and
    sequential ids would tell outsiders how many users there are."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)


class EndedSession(models.Model):
    """A login session ended by logout: the access tokens issued in it are
    refused from then on (its refresh token is blacklisted). A row is needed
    only until the session's last access token expires."""

    session_id = models.CharField(max_length=64, primary_key=True)
    ended_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"session {self.session_id} ended {self.ended_at:%Y-%m-%d %H:%M:%S}"
