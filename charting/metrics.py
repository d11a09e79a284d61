from prometheus_client import Counter, Histogram

# `type` is the chart kind: candles, signal, equity, returns.
media_render_total = Counter("media_render_total", "Charts rendered (cache misses that drew a PNG).", ["type"])
media_cache_hits_total = Counter("media_cache_hits_total", "Chart answers served from the cache.", ["type"])
# A 1200x600 chart takes tens of milliseconds; the top buckets catch a
# starved worker or a huge size.
media_render_seconds = Histogram(
    "media_render_seconds",
    "Time to draw and encode one chart.",
    ["type"],
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, float("inf")),
)
