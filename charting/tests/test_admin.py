"""The operators' console shows a signal's chart and an instrument's latest candles."""

import re

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

ADMIN = "/" + settings.ADMIN_URL


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


def test_the_signal_page_shows_its_chart(console, make_candles, make_signal, anon):
    make_candles(80)
    signal = make_signal()
    page = console.get(f"{ADMIN}signals/signal/{signal.pk}/change/")
    assert page.status_code == 200
    src = re.search(r'<img src="([^"]+)" alt="Chart of this signal"', page.content.decode())
    assert src and src.group(1).startswith(f"/charts/signals/{signal.pk}/?")
    image = anon.get(src.group(1).replace("&amp;", "&"))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_a_signal_without_candles_says_so(console, make_signal):
    page = console.get(f"{ADMIN}signals/signal/{make_signal().pk}/change/")
    assert b"No candles around this signal" in page.content


def test_the_instrument_page_lists_its_latest_candles(console, make_candles, eurusd, anon):
    make_candles(30)
    page = console.get(f"{ADMIN}signals/instrument/{eurusd.pk}/change/").content.decode()
    assert "Latest candles (H1, 30 stored)" in page
    assert "<tr><td>2026-11-03 05:00:00 UTC</td>" in page  # the newest bar, first
    assert page.count("<tr><td>") == 12
    src = re.search(r'<img src="([^"]+)" alt="Latest candles"', page).group(1).replace("&amp;", "&")
    assert anon.get(src).status_code == 200


def test_market_data_is_listed_read_only(console, make_candles, make_equity, alice):
    make_candles(5)
    make_equity(alice, days=1)
    for model in ("candle", "equitypoint"):
        listing = console.get(f"{ADMIN}charting/{model}/")
        assert listing.status_code == 200
        assert console.get(f"{ADMIN}charting/{model}/add/").status_code == 403
    assert b"1.08040" in console.get(f"{ADMIN}charting/candle/").content
