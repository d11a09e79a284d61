"""One render for many simultaneous requests; charts without a cache."""

import threading
import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from charting import media
from charting.media import Chart, chart_image
from charting.metrics import media_render_total
from tests.concurrency import run_together

CANDLES = "/api/v1/charts/candles/?instrument=EURUSD&timeframe=H1"


def slow_chart(draws):
    def draw():
        draws.append(threading.get_ident())
        time.sleep(0.2)  # long enough for every other thread to arrive meanwhile
        return b"\x89PNG-test-" + uuid.uuid4().bytes

    return Chart("candles", {"test": uuid.uuid4().hex}, draw)


def test_twenty_threads_asking_for_one_uncached_chart_render_it_once():
    draws = []
    chart = slow_chart(draws)
    images = run_together([lambda: chart_image(chart)] * 20)
    assert len(draws) == 1
    assert len(images) == 20 and len({image.etag for image in images}) == 1


@pytest.mark.skipif(not hasattr(cache, "lock"), reason="needs a shared cache with locks (REDIS_URL)")
def test_processes_agree_through_the_redis_lock():
    """Threads that bypass the process-local lock stand for separate worker
    processes: only the one holding the Redis lock renders, the others wait
    for its image in the cache."""
    draws = []
    chart = slow_chart(draws)
    images = run_together([lambda: media._render_once_across_processes(chart.cache_key, chart)] * 8)
    assert len(draws) == 1
    assert len({image.etag for image in images}) == 1


def redis_settings_on(port):
    options = dict(settings.CACHES["default"].get("OPTIONS", {}))
    options.update({"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, "IGNORE_EXCEPTIONS": True})
    return {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0",
                        "OPTIONS": options}}


@pytest.mark.django_db
def test_with_redis_down_charts_still_render_uncached(client_for, alice, make_candles):
    make_candles(40)
    with override_settings(CACHES=redis_settings_on(6390), DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS=False):
        client = client_for(alice)
        before = media_render_total.labels(type="candles")._value.get()
        first, second = client.get(CANDLES), client.get(CANDLES)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert media_render_total.labels(type="candles")._value.get() == before + 2  # nothing was cached
        assert client.get(CANDLES, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_http_requests_render_once(alice, make_candles):
    make_candles(120)
    token = str(AccessToken.for_user(alice))
    before = media_render_total.labels(type="candles")._value.get()

    def fetch():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get(CANDLES + "&bars=100")

    responses = run_together([fetch] * 20)
    assert [r.status_code for r in responses] == [200] * 20
    assert len({r["ETag"] for r in responses}) == 1
    assert media_render_total.labels(type="candles")._value.get() == before + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_upserts_of_the_same_new_bars_count_each_bar_inserted_once(eurusd):
    from charting.services import upsert_candles
    from charting.tests.conftest import candle_rows

    rows = candle_rows(300)
    results = run_together([lambda: upsert_candles(instrument=eurusd, timeframe="H1", candles=rows)] * 4)
    assert sum(r.inserted for r in results) == 300
    assert sum(r.updated for r in results) == 3 * 300
