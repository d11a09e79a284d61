"""The signal's chart: its signed links (thumbnails too), `chart_url` only
while there are bars to draw, and the trade the signal became."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from charting import selectors
from charting.tests.conftest import START
from charting.tests.test_charts import png_size
from charting.tests.test_links import LINKS, make_link, relative
from delivery.models import Event, EventType
from signals.models import Signal

pytestmark = pytest.mark.django_db


def test_chart_url_is_null_until_the_signal_has_bars(client_for, alice, anon, make_candles, make_signal):
    signal = make_signal()
    client = client_for(alice)
    assert client.get(f"/api/v1/signals/{signal.pk}/").json()["chart_url"] is None
    make_candles(80)
    url = client.get(f"/api/v1/signals/{signal.pk}/").json()["chart_url"]
    assert url.startswith(f"http://testserver/charts/signals/{signal.pk}/?")
    assert anon.get(relative(url)).status_code == 200


def test_the_feed_gives_a_chart_url_to_the_signals_with_bars_only(client_for, alice, make_candles, make_signal):
    make_candles(80)  # bars from START to START + 79 h
    charted = make_signal()
    # Far from any bar: nothing to draw around it.
    lonely = make_signal(at=START + timedelta(days=30))
    rows = {row["id"]: row["chart_url"] for row in client_for(alice).get("/api/v1/signals/").json()["results"]}
    assert rows[str(lonely.pk)] is None
    assert rows[str(charted.pk)].startswith(f"http://testserver/charts/signals/{charted.pk}/?")


def test_the_bars_probe_answers_for_more_signals_than_one_statement_takes(make_candles, make_signal):
    make_candles(80)
    charted, lonely = make_signal(), make_signal(at=START + timedelta(days=30))
    assert selectors.signals_with_bars([lonely] * 1000 + [charted]) == {charted.pk}


@pytest.mark.parametrize("bars", [0, 80])
def test_an_ingestion_answers_the_chart_url_its_event_carries_from_one_probe(signed, make_candles, bars):
    if bars:
        make_candles(bars)  # bars from START to START + 79 h
    body = {"instrument": "EURUSD", "side": "buy", "time": START + timedelta(hours=40), "version": 1,
            "entry_price": "1.08420", "expires_at": timezone.now() + timedelta(days=1)}
    with CaptureQueriesContext(connection) as captured:
        answer = signed.post("/api/v1/signals/", body)
    assert answer.status_code == 201
    chart_url = answer.json()["chart_url"]
    sent = Event.objects.get(type=EventType.SIGNAL_CREATED).payload["chart_url"]
    if bars:
        assert urlsplit(chart_url).path == urlsplit(sent).path == f"/charts/signals/{answer.json()['id']}/"
    else:
        assert chart_url is None and sent is None
    # Rendered for the event and again for the answer, the signal is probed for bars once.
    assert sum("charting_candle" in query["sql"] for query in captured) == 1


def test_a_signal_link_is_made_for_the_callers_signal_at_thumbnail_size(client_for, alice, bob, anon, make_candles,
                                                                         make_signal):
    make_candles(80)
    signal = make_signal()
    link = make_link(client_for(alice), chart="signal", signal=str(signal.pk), width=240, height=150, bars=40,
                     ttl=600)
    assert urlsplit(link["url"]).path == f"/charts/signals/{signal.pk}/"
    thumbnail = anon.get(relative(link["url"]))
    assert thumbnail.status_code == 200
    assert png_size(thumbnail.content) == (240, 150)
    assert thumbnail["Cache-Control"].startswith("public")
    # Another user's signal, or none, is a 404 to the link's maker.
    assert client_for(bob).post(LINKS, {"chart": "signal", "signal": str(signal.pk)}, format="json").status_code == 404
    response = client_for(alice).post(LINKS, {"chart": "signal", "signal": "nope"}, format="json")
    assert response.status_code == 422 and "signal" in response.json()["errors"]
    # The JWT view keeps the contract's bounds.
    assert client_for(alice).get(f"/api/v1/signals/{signal.pk}/chart/?width=240&height=150").status_code == 422


def test_a_signal_link_keeps_its_timeframe(client_for, alice, anon, make_candles, make_signal):
    make_candles(80)
    make_candles(300, timeframe="M15", step=timedelta(minutes=15))
    signal = make_signal()
    client = client_for(alice)
    m15 = make_link(client, chart="signal", signal=str(signal.pk), timeframe="M15", ttl=600)["url"]
    assert "timeframe=M15" in m15
    assert anon.get(relative(m15)).content == client.get(f"/api/v1/signals/{signal.pk}/chart/?timeframe=M15").content


def _position(signal, **fields):
    from execution import services as execution_services
    from execution.models import Position

    bridge = execution_services.create_bridge(name="alice-mt5", owner=signal.owner, account_ref="A-1")[0]
    return Position.objects.create(
        bridge=bridge, owner=signal.owner, instrument=signal.instrument, side=signal.side, ticket="1001",
        volume=Decimal("0.10"), opened_volume=Decimal("0.10"), open_price=Decimal("1.08430"),
        open_time=signal.time + timedelta(minutes=3), origin="platform", signal=signal, **fields)


def test_the_chart_shows_the_fill_and_then_the_close(client_for, alice, make_candles, make_signal):
    make_candles(80)
    signal = make_signal()
    Signal.objects.filter(pk=signal.pk).update(status="approved")
    client = client_for(alice)
    chart = f"/api/v1/signals/{signal.pk}/chart/"
    approved = client.get(chart)
    position = _position(signal)
    filled = client.get(chart)
    assert filled.status_code == 200 and filled["ETag"] != approved["ETag"]
    position.status, position.volume = "closed", 0
    position.close_price, position.close_time = Decimal("1.08890"), signal.time + timedelta(hours=9)
    position.close_reason = "take_profit"
    position.save()
    closed = client.get(chart)
    assert closed["ETag"] not in (approved["ETag"], filled["ETag"])


def test_the_chart_follows_the_signals_status(client_for, alice, make_candles, make_signal):
    make_candles(80)
    signal = make_signal()
    client = client_for(alice)
    chart = f"/api/v1/signals/{signal.pk}/chart/"
    before = client.get(chart)
    Signal.objects.filter(pk=signal.pk).update(status="rejected")
    assert client.get(chart)["ETag"] != before["ETag"]
