"""The JWT chart endpoints, their caching, ETags and authorization."""

import hashlib
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from charting import caches
from charting.metrics import media_cache_hits_total, media_render_total
from charting.models import Candle
from charting.tests.conftest import START

pytestmark = pytest.mark.django_db

CANDLES = "/api/v1/charts/candles/?instrument=EURUSD&timeframe=H1"
EQUITY = "/api/v1/charts/equity/"
RETURNS = "/api/v1/charts/returns/"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def renders(kind):
    return media_render_total.labels(type=kind)._value.get()


def hits(kind):
    return media_cache_hits_total.labels(type=kind)._value.get()


def png_size(png):
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_candles_chart_is_a_png_with_strong_etag_and_private_caching(client_for, alice, make_candles):
    make_candles(60)
    response = client_for(alice).get(CANDLES + "&width=800&height=400")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG_MAGIC)
    assert png_size(response.content) == (800, 400)
    assert response["ETag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response["Cache-Control"].startswith("private, max-age=")


def test_an_accept_header_for_images_is_served(client_for, alice, make_candles):
    make_candles(20)
    response = client_for(alice).get(CANDLES, HTTP_ACCEPT="image/png")
    assert response.status_code == 200


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_if_none_match_gives_304_without_a_body(client_for, alice, make_candles, if_none_match):
    make_candles(30)
    client = client_for(alice)
    etag = client.get(CANDLES)["ETag"]
    response = client.get(CANDLES, HTTP_IF_NONE_MATCH=if_none_match.format(etag=etag))
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"].startswith("private")


def test_a_stale_etag_gets_the_new_image(client_for, alice, make_candles):
    make_candles(30)
    response = client_for(alice).get(CANDLES, HTTP_IF_NONE_MATCH='"0123"')
    assert response.status_code == 200 and response.content.startswith(PNG_MAGIC)


def test_the_same_chart_is_rendered_once_then_served_from_the_cache(client_for, alice, make_candles):
    make_candles(30)
    client = client_for(alice)
    before_renders, before_hits = renders("candles"), hits("candles")
    first = client.get(CANDLES)
    second = client.get(CANDLES)
    assert first.content == second.content
    assert renders("candles") == before_renders + 1
    assert hits("candles") == before_hits + 1


def test_a_cached_candles_chart_asks_only_its_version_and_shows_new_bars_at_once(
        client_for, alice, make_candles, settings, django_assert_num_queries):
    """The worker keeps the token's user and the image (charting/caches.py),
    the cached answer bench charts_render measures, but asks the database for
    the series' data version every time: a bar another process wrote (no
    signal reaches this one) shows on the next request, as the contract says."""
    settings.WORKER_CACHE_SECONDS = 60
    make_candles(30)
    client = client_for(alice)
    first = client.get(CANDLES)
    with django_assert_num_queries(1):
        again = client.get(CANDLES)
    assert again.content == first.content
    newest = Candle.objects.order_by("-time").values_list("pk", flat=True)[:1]
    Candle.objects.filter(pk__in=newest).update(high=F("high") + 1, updated_at=timezone.now())
    assert client.get(CANDLES).content != first.content


def test_same_data_gives_the_same_bytes_when_rendered_again(client_for, alice, make_candles):
    make_candles(40)
    client = client_for(alice)
    first = client.get(CANDLES).content
    cache.clear()
    caches.images.clear()  # what this worker keeps of the cache too
    before = renders("candles")
    second = client.get(CANDLES).content
    assert renders("candles") == before + 1  # really drawn a second time
    assert first == second


def test_new_candles_change_the_cache_key_and_the_picture(client_for, alice, make_candles, eurusd):
    make_candles(30)
    client = client_for(alice)
    first = client.get(CANDLES)
    make_candles(1, start=START + timedelta(hours=30))  # the next bar arrives
    second = client.get(CANDLES)
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    # ...and a correction of a bar already drawn shows too.
    make_candles(1, start=START + timedelta(hours=29), price=eurusd.candles.get(
        time=START + timedelta(hours=29)).open + 1)
    assert client.get(CANDLES)["ETag"] != second["ETag"]


def test_the_byte_cap_is_honoured_by_drawing_smaller(client_for, alice, make_candles, settings):
    make_candles(200)
    full = client_for(alice).get(CANDLES)
    settings.CHART_MAX_BYTES = len(full.content) // 3
    capped = client_for(alice).get(CANDLES)
    assert capped.status_code == 200
    assert len(capped.content) <= settings.CHART_MAX_BYTES
    assert png_size(capped.content)[0] < 1200


def test_charts_need_a_token(anon):
    for path in (CANDLES, EQUITY, RETURNS, "/api/v1/signals/8c4c5c0e-3b1e-4a43-9d8e-0d7d4d0f4a11/chart/"):
        response = anon.get(path)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("query", ["width=299", "width=2401", "height=199", "height=1601", "bars=9", "bars=1001",
                                   "bars=ten", "timeframe=W1", "instrument=NOPE"])
def test_parameters_out_of_range_are_422(client_for, alice, make_candles, query):
    make_candles(20)
    name, _ = query.split("=")
    base = {"instrument": "EURUSD", "timeframe": "H1"}
    base.pop(name, None)
    path = "/api/v1/charts/candles/?" + "&".join(f"{k}={v}" for k, v in base.items()) + "&" + query
    response = client_for(alice).get(path)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [name]


@pytest.mark.parametrize("path", [EQUITY + "?width=5000", RETURNS + "?bars=0"])
def test_equity_parameters_are_checked_too(client_for, alice, path):
    assert client_for(alice).get(path).status_code == 422


def test_no_data_is_404(client_for, alice):
    for path in (CANDLES, EQUITY, RETURNS):
        response = client_for(alice).get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"


def test_returns_need_two_days(client_for, alice, make_equity):
    make_equity(alice, days=1)
    assert client_for(alice).get(RETURNS).status_code == 404
    make_equity(alice, days=3)
    assert client_for(alice).get(RETURNS).status_code == 200


def test_charts_are_read_only(client_for, alice):
    assert client_for(alice).post(CANDLES).status_code == 405


def test_equity_and_returns_are_the_callers_own(client_for, alice, bob, make_equity):
    make_equity(alice, days=10)
    own = client_for(alice).get(EQUITY)
    assert own.status_code == 200
    assert client_for(alice).get(RETURNS).status_code == 200
    # No parameter reaches another user's account.
    for path in (EQUITY, RETURNS):
        assert client_for(bob).get(f"{path}?owner={alice.pk}&user={alice.pk}").status_code == 404
    make_equity(bob, days=10, equity=5000)
    assert client_for(bob).get(EQUITY).content != own.content


def test_signal_chart_of_own_signal(client_for, alice, make_candles, make_signal):
    make_candles(80)
    signal = make_signal()
    response = client_for(alice).get(f"/api/v1/signals/{signal.pk}/chart/?width=900&height=500&bars=40")
    assert response.status_code == 200
    assert png_size(response.content) == (900, 500)
    assert response["Cache-Control"].startswith("private")


def test_another_users_signal_chart_is_404_and_staff_see_it(client_for, alice, bob, make_user, make_candles,
                                                            make_signal):
    make_candles(80)
    signal = make_signal()
    assert client_for(bob).get(f"/api/v1/signals/{signal.pk}/chart/").status_code == 404
    assert client_for(make_user("op", is_staff=True)).get(f"/api/v1/signals/{signal.pk}/chart/").status_code == 200


def test_signal_chart_without_candles_or_signal_is_404(client_for, alice, make_signal):
    signal = make_signal()
    assert client_for(alice).get(f"/api/v1/signals/{signal.pk}/chart/").status_code == 404
    missing = "8c4c5c0e-3b1e-4a43-9d8e-0d7d4d0f4a11"
    assert client_for(alice).get(f"/api/v1/signals/{missing}/chart/").status_code == 404


def test_signal_chart_timeframe_can_be_chosen(client_for, alice, make_candles, make_signal):
    make_candles(80)
    make_candles(300, timeframe="M15", step=timedelta(minutes=15))
    signal = make_signal()
    client = client_for(alice)
    default = client.get(f"/api/v1/signals/{signal.pk}/chart/")
    m15 = client.get(f"/api/v1/signals/{signal.pk}/chart/?timeframe=M15")
    assert default.status_code == m15.status_code == 200
    assert default["ETag"] != m15["ETag"]
    assert client.get(f"/api/v1/signals/{signal.pk}/chart/?timeframe=D1").status_code == 404
