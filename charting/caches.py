"""What the charting app keeps, each with the models whose changes clear it
(connected in charting/apps.py; core/worker_cache.py says how)."""

from django.conf import settings

from charting.models import Candle
from core.worker_cache import WorkerCache
from signals.models import Instrument

# An instrument with the data version of its bars in one timeframe
# (selectors.candle_series_state), by symbol and timeframe, kept by each
# worker for WORKER_CACHE_SECONDS: its query was all the database work of a
# cached candles chart, a third of its answer on PostgreSQL. New or corrected
# bars clear it in the process that wrote them at once (charting/services.py:
# the bulk upsert sends no post_save) and reach the other workers' charts
# within WORKER_CACHE_SECONDS. An unknown symbol is never kept.
candle_series = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS, invalidated_by=(Candle, Instrument))

# Chart images by cache key (charting/media.py), each read from the shared
# cache kept by the worker that read it for WORKER_CACHE_SECONDS: a key names
# the data version its image was drawn from, so a kept image is never stale,
# and under load the Redis read of a cached chart (a round trip and some
# 70 KB) was two fifths of its answer. At most KEPT_IMAGES images of up to
# KEPT_IMAGE_BYTES each; a larger one is read from the shared cache every time.
KEPT_IMAGES = 32
KEPT_IMAGE_BYTES = 512 * 1024
images = WorkerCache(lambda: settings.WORKER_CACHE_SECONDS, max_entries=KEPT_IMAGES)
