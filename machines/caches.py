"""What the machines app keeps, each with the models whose changes clear it
(connected in machines/apps.py; core/worker_cache.py says how)."""

from django.conf import settings

from core.worker_cache import WorkerCache
from machines.models import MachineClient, MachineSecret

# Each machine client's row and its live secrets, decrypted, by client model
# and key id (machines/selectors.py), kept by each worker for
# WORKER_CACHE_SECONDS: the credentials query was a fifth of a signed
# request's database work. Cleared by a change of any producer, bridge or
# secret row.
credentials = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS, invalidated_by=(MachineClient, MachineSecret))
