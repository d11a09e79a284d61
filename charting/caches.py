"""What the charting app keeps per worker (core/worker_cache.py says how).

A chart's data version is not among it: the contract promises that the next
request shows new candles or equity points, whichever worker answers it, so
every chart request asks the database for its version (one indexed query)."""

from django.conf import settings

from core.worker_cache import WorkerCache

# Chart images by cache key (charting/media.py), each read from the shared
# cache kept by the worker that read it for WORKER_CACHE_SECONDS: a key names
# the data version its image was drawn from, so a kept image is never stale,
# and under load the Redis read of a cached chart (a round trip and some
# 70 KB) was two fifths of its answer. At most KEPT_IMAGES images of up to
# KEPT_IMAGE_BYTES each; a larger one is read from the shared cache every time.
KEPT_IMAGES = 32
KEPT_IMAGE_BYTES = 512 * 1024
images = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS, max_entries=KEPT_IMAGES)
