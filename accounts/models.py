import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Django's user with a UUID id: the contract's ids are UUID strings, and
    sequential ids would tell outsiders how many users there are."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
