"""A chart kind registered by another app gets the JWT view, signed links,
ETags, the cache and the size rules from charting (charting/registry.py)."""

from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from charting import registry
from charting.tests.kind_urls import STEPS
from charting.tests.test_charts import png_size, renders
from charting.tests.test_links import LINKS, make_link, relative, with_params

pytestmark = [pytest.mark.django_db, pytest.mark.urls("charting.tests.kind_urls")]

STEPS_URL = "/api/v1/charts/steps/"


@pytest.fixture(autouse=True)
def steps_kind():
    registry.register(STEPS)
    yield
    registry._kinds.pop(STEPS.name)


def test_a_registered_kind_is_drawn_for_its_user_with_etag_and_cache(client_for, alice, make_equity):
    make_equity(alice, days=5)
    client = client_for(alice)
    before = renders("steps")
    first = client.get(f"{STEPS_URL}?width=640&height=320")
    assert first.status_code == 200
    assert first["Content-Type"] == "image/png"
    assert png_size(first.content) == (640, 320)
    assert first["Cache-Control"].startswith("private")
    assert client.get(f"{STEPS_URL}?width=640&height=320", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get(f"{STEPS_URL}?width=640&height=320").content == first.content
    assert renders("steps") == before + 1  # the second answer came from the cache
    # The kind's own parameter makes another picture.
    assert client.get(f"{STEPS_URL}?width=640&height=320&factor=3").content != first.content


def test_new_data_changes_the_kinds_version_and_picture(client_for, alice, make_equity):
    from charting.tests.conftest import START
    from datetime import timedelta
    make_equity(alice, days=5)
    client = client_for(alice)
    first = client.get(STEPS_URL)
    make_equity(alice, days=1, start=START + timedelta(days=5))
    second = client.get(STEPS_URL)
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]


def test_the_kinds_rules_give_404_and_422(client_for, alice, make_equity, make_user):
    assert client_for(alice).get(STEPS_URL).status_code == 404  # no data yet
    make_equity(alice, days=5)
    for query, field in (("factor=9", "factor"), ("width=299", "width"), ("height=1601", "height"),
                         ("width=200&height=120", "width")):
        response = client_for(alice).get(f"{STEPS_URL}?{query}")
        assert response.status_code == 422
        assert field in response.json()["errors"]
    # The subject's authorization: refused to alice, drawn for staff.
    assert client_for(alice).get(f"{STEPS_URL}?factor=5").status_code == 404
    staff = make_user("op", is_staff=True)
    make_equity(staff, days=5)
    assert client_for(staff).get(f"{STEPS_URL}?factor=5").status_code == 200


def test_a_kinds_link_carries_its_subject_and_may_be_a_thumbnail(client_for, alice, bob, anon, make_equity):
    make_equity(alice, days=5)
    link = make_link(client_for(alice), chart="steps", factor=2, width=200, height=120, ttl=600)["url"]
    assert urlsplit(link).path == "/charts/steps/"
    assert f"owner={alice.pk}" in link and "factor=2" in link
    thumbnail = anon.get(relative(link))
    assert thumbnail.status_code == 200
    assert png_size(thumbnail.content) == (200, 120)
    assert thumbnail["Cache-Control"].startswith("public")
    assert anon.get(relative(link), HTTP_IF_NONE_MATCH=thumbnail["ETag"]).status_code == 304
    assert anon.get(with_params(link, owner=str(bob.pk))).status_code == 403
    # The same chart as the JWT view at a size both accept.
    link = make_link(client_for(alice), chart="steps", factor=2, width=600, height=300, ttl=600)["url"]
    assert anon.get(relative(link)).content == client_for(alice).get(
        f"{STEPS_URL}?factor=2&width=600&height=300").content


def test_a_kinds_link_is_refused_where_its_view_would_be(client_for, alice, make_equity):
    make_equity(alice, days=5)
    client = client_for(alice)
    assert client.post(LINKS, {"chart": "steps", "factor": 5}, format="json").status_code == 404
    for body, field in (({"factor": 0}, "factor"), ({"width": 199}, "width"), ({"height": 119}, "height")):
        response = client.post(LINKS, {"chart": "steps", **body}, format="json")
        assert response.status_code == 422
        assert field in response.json()["errors"]


def test_a_link_made_before_the_data_shows_it_once_it_comes(client_for, alice, anon, make_equity):
    url = relative(make_link(client_for(alice), chart="steps", ttl=600)["url"])
    assert anon.get(url).status_code == 404
    make_equity(alice, days=5)
    cache.clear()
    assert anon.get(url).status_code == 200


def test_a_kind_name_is_registered_once():
    with pytest.raises(ImproperlyConfigured):
        registry.register(registry.ChartKind(name="steps", summary="", subject=STEPS.subject, load=STEPS.load,
                                             draw=STEPS.draw))
    with pytest.raises(ImproperlyConfigured):
        registry.register(registry.ChartKind(name="signal", summary="", subject=STEPS.subject, load=STEPS.load,
                                             draw=STEPS.draw))
