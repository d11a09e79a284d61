"""Machine clients' secrets at rest (producers', bridges'): MultiFernet over
settings.FIELD_ENCRYPTION_KEYS (the first key encrypts, every key decrypts, so
an operator rotates the key by putting a new one first and running
`reencrypt_machine_secrets`)."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Settings allow an empty list only in DEBUG (or when explicitly
        # allowed): derive a stable key so local secrets survive restarts.
        # The label predates bridges; changing it would orphan stored secrets.
        derived = hashlib.sha256(b"tradeplatform:producer-secrets:" + secret_key.encode("utf-8")).digest()
        keys = (base64.urlsafe_b64encode(derived).decode("ascii"),)
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode("ascii")).decode("utf-8")


def reencrypt(token: str) -> str:
    """The same secret under the current first key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")
