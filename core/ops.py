"""Liveness, readiness and metrics, outside the versioned API."""

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CollectorRegistry, generate_latest

from core.client_ip import address_in, client_ip
from core.problems import problem_response

# Figures read from the database when /metrics is scraped (e.g. positions open
# now), which no worker process can keep: apps register their collectors here
# in their ready(), and every scrape adds them to the workers' metrics.
SCRAPE_TIME_METRICS = CollectorRegistry()


@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


def cache_answers() -> bool:
    # The cache swallows its own errors (it is allowed to degrade), so the
    # only reliable probe is a round trip of a value nobody else could write.
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=5)
    answered = cache.get(key) == value
    cache.delete(key)
    return answered


@require_safe
def readyz(request):
    checks = {"database": database_answers(), "cache": cache_answers()}
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        return problem_response(503, path=request.path, detail=f"Not ready: {', '.join(failed)} unavailable.",
                                extra={"failed": failed}, headers={"Retry-After": "5"})
    return JsonResponse({"status": "ready", "checks": {name: "ok" for name in checks}})


@require_safe
def metrics(request):
    """Prometheus text, summed over all worker processes when gunicorn runs
    with PROMETHEUS_MULTIPROC_DIR; hidden (404) outside METRICS_ALLOWED_CIDRS."""
    if not address_in(client_ip(request), settings.METRICS_ALLOWED_CIDRS):
        return problem_response(404, path=request.path)
    response = ExportToDjangoView(request)
    response.content += generate_latest(SCRAPE_TIME_METRICS)
    return response
