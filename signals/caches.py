"""What the signals app keeps, each with the models whose changes clear it
(connected in signals/apps.py; core/worker_cache.py says how)."""

from django.conf import settings

from core.worker_cache import SharedCacheEntry
from signals.models import Instrument

# The enabled instruments every ingestion checks a symbol against. A change
# clears both copies at once and again when it commits; the shared copy's
# timeout only bounds the rare race of a reader refilling it with the rows it
# read just before that commit. Each worker keeps it for WORKER_CACHE_SECONDS
# too: the Redis read was half the cost of validating a signal.
whitelist = SharedCacheEntry("signals:whitelist", seconds=10,
                             worker_seconds=lambda: settings.WORKER_CACHE_SECONDS,
                             invalidated_by=(Instrument,))
