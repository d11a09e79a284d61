"""Push delivery's figures. Counted on commit; with PROMETHEUS_MULTIPROC_DIR
set (gunicorn, the task consumer and the ASGI process of `make run` and
production) every process writes its own file and /metrics sums them."""

from prometheus_client import Counter, Gauge, Histogram

webhook_deliveries_total = Counter(
    "webhook_deliveries_total",
    "Webhook attempts by what became of the delivery: succeeded, retrying (it failed and will be tried "
    "again) or failed (it failed and no attempt is left, or its endpoint was disabled).", ["status"])
# From the event's commit to the receiver's 2xx: the first attempt's latency
# when all is well, the backoff's when the receiver was down.
webhook_delivery_seconds = Histogram(
    "webhook_delivery_seconds", "Time from an event to its webhook delivery's success.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 86400, float("inf")))
# Summed over the live processes: each ASGI process counts its own streams.
event_stream_clients = Gauge("event_stream_clients", "Event streams (SSE) open now.", multiprocess_mode="livesum")
