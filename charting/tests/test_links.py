"""Signed chart URLs for embedding, which need no login."""

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from charting import links

pytestmark = pytest.mark.django_db

LINKS = "/api/v1/charts/links/"


def make_link(client, **body):
    response = client.post(LINKS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def relative(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def with_params(url, **changes):
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query)) | changes
    return f"{parts.path}?{urlencode(params)}"


def test_a_candles_link_works_without_login_and_is_publicly_cacheable(client_for, alice, anon, make_candles):
    make_candles(50)
    link = make_link(client_for(alice), chart="candles", instrument="eurusd", timeframe="H1", width=640,
                     height=360, bars=30, ttl=3600)
    assert link["url"].startswith("http://testserver/charts/candles/?")
    assert link["expires_at"].endswith("Z")
    response = anon.get(relative(link["url"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    max_age = int(response["Cache-Control"].removeprefix("public, max-age="))
    assert 0 < max_age <= 3600
    again = anon.get(relative(link["url"]), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_link_answer_does_not_vary_with_the_browsers_cookies(client_for, alice, make_candles, operator, client):
    """Shared caches (chat proxies, CDNs) keep one copy of a public chart
    only if the answer does not vary with cookies: here from a browser that
    is logged in to the admin."""
    make_candles(50)
    link = make_link(client_for(alice), chart="candles", instrument="EURUSD", timeframe="H1", ttl=600)
    client.force_login(operator)
    response = client.get(relative(link["url"]))
    assert response.status_code == 200
    assert "cookie" not in response.get("Vary", "").lower()
    assert response["Cache-Control"].startswith("public")


def test_the_link_and_the_jwt_endpoint_draw_the_same_picture(client_for, alice, anon, make_candles):
    make_candles(50)
    client = client_for(alice)
    link = make_link(client, chart="candles", instrument="EURUSD", timeframe="H1", ttl=60)
    assert anon.get(relative(link["url"])).content == client.get(
        "/api/v1/charts/candles/?instrument=EURUSD&timeframe=H1").content


@pytest.mark.parametrize("change", [{"bars": "31"}, {"width": "2400"}, {"instrument": "XAUUSD"},
                                    {"signature": "0" * 64}, {"expires": "9999999999"}, {"extra": "1"}])
def test_an_altered_link_is_403(client_for, alice, anon, make_candles, change):
    make_candles(50)
    link = make_link(client_for(alice), chart="candles", instrument="EURUSD", timeframe="H1", bars=30, ttl=600)
    response = anon.get(with_params(link["url"], **change))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_a_repeated_parameter_or_a_missing_signature_is_403(client_for, alice, anon, make_candles):
    make_candles(50)
    url = relative(make_link(client_for(alice), chart="candles", instrument="EURUSD", timeframe="H1")["url"])
    assert anon.get(url + "&bars=999").status_code == 403
    assert anon.get(url.split("&signature=")[0]).status_code == 403
    assert anon.get("/charts/candles/").status_code == 403


def test_an_expired_link_is_410(client_for, alice, anon, make_candles, monkeypatch):
    make_candles(50)
    link = make_link(client_for(alice), chart="candles", instrument="EURUSD", timeframe="H1", ttl=60)
    real_time = links.time.time
    monkeypatch.setattr(links.time, "time", lambda: real_time() + 61)
    response = anon.get(relative(link["url"]))
    assert response.status_code == 410
    assert response.json()["type"].endswith("link-expired")


def test_an_equity_link_draws_its_owners_equity_only(client_for, alice, bob, anon, make_equity):
    make_equity(alice, days=10)
    make_equity(bob, days=10, equity=3000)
    alice_link = make_link(client_for(alice), chart="equity", ttl=600)["url"]
    bob_link = make_link(client_for(bob), chart="returns", ttl=600)["url"]
    assert f"owner={alice.pk}" in alice_link and f"owner={bob.pk}" in bob_link

    alice_chart = anon.get(relative(alice_link))
    assert alice_chart.status_code == 200
    assert alice_chart.content == client_for(alice).get("/api/v1/charts/equity/").content
    # Pointing bob's link at alice's account breaks the signature.
    assert anon.get(with_params(bob_link, owner=str(alice.pk))).status_code == 403
    # A parameter meant for the candles link changes nothing for an equity link but the signature.
    assert anon.get(with_params(alice_link, instrument="EURUSD")).status_code == 403


def test_an_equity_link_of_a_deactivated_user_is_404(client_for, alice, anon, make_equity):
    make_equity(alice, days=5)
    url = relative(make_link(client_for(alice), chart="equity", ttl=600)["url"])
    alice.is_active = False
    alice.save()
    assert anon.get(url).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"chart": "candles", "timeframe": "H1"}, "instrument"),
    ({"chart": "candles", "instrument": "EURUSD"}, "timeframe"),
    ({"chart": "candles", "instrument": "NOPE", "timeframe": "H1"}, "instrument"),
    ({"chart": "equity", "ttl": 604801}, "ttl"),
    ({"chart": "equity", "ttl": 0}, "ttl"),
    ({"chart": "signal"}, "signal"),
    ({"chart": "nope"}, "chart"),
    ({"chart": "equity", "width": 10}, "width"),
])
def test_link_requests_are_validated(client_for, alice, body, field):
    response = client_for(alice).post(LINKS, body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_links_need_a_token_and_are_rate_limited(client_for, alice, anon, monkeypatch):
    assert anon.post(LINKS, {"chart": "equity"}, format="json").status_code == 401
    from charting.views.charts import ChartLinkThrottle
    monkeypatch.setattr(ChartLinkThrottle, "THROTTLE_RATES", {"chart_link": "2/min"})
    client = client_for(alice)
    assert [client.post(LINKS, {"chart": "equity"}, format="json").status_code for _ in range(3)] == [201, 201, 429]


def test_signal_chart_url_is_an_absolute_signed_link(client_for, alice, bob, anon, make_candles, make_signal):
    make_candles(80)
    signal = make_signal()
    resource = client_for(alice).get(f"/api/v1/signals/{signal.pk}/")
    assert resource.status_code == 200
    url = resource.json()["chart_url"]
    assert url.startswith(f"http://testserver/charts/signals/{signal.pk}/?")
    response = anon.get(relative(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("public")
    # The same link pointed at another signal is refused.
    other = make_signal(side="sell", entry="1.08420", stop="1.08600", target="1.08000")
    assert anon.get(relative(url).replace(str(signal.pk), str(other.pk))).status_code == 403
