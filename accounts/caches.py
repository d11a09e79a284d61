"""What the accounts app keeps, each with the models whose changes clear it
(connected in accounts/apps.py; core/worker_cache.py says how)."""

from django.conf import settings

from accounts.models import EndedSession, User
from core.worker_cache import WorkerCache

# The user of an access token whose user exists and is active and whose
# session has not ended, by user id, password-hash claim and session
# (accounts/authentication.py), kept by each worker for WORKER_CACHE_SECONDS:
# reading the user and the session on every request was the largest cost of
# a cached chart. A refusal is never kept.
users = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS, invalidated_by=(User, EndedSession))

# Access tokens whose signature and claims were verified, by their exact
# bytes, kept by each worker for WORKER_CACHE_SECONDS: verifying and decoding
# a token (base64, HMAC, JSON) was a fifth of a cached chart's answer. What
# makes a token valid is its bytes and the clock: its expiry is checked on
# every request (accounts/authentication.py), and the user and the session
# behind it through `users`. A refusal is never kept.
access_tokens = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS)
