"""Polling the feed: Last-Modified and a weak ETag from one aggregate query,
304 before the page is built, per user and per page."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.http import http_date

from approvals.services import decide_signal
from signals import services
from signals.tests.test_feed import other_producer, other_user, staff  # noqa: F401 (fixtures)
from signals.tests.test_feed import client_for, ids, make_signal
from signals.views import FEED_SETTLE_SECONDS

pytestmark = pytest.mark.django_db

FEED = "/api/v1/signals/"
# Mid-hour, so that no test crosses the whole hour on which chart links are re-signed.
START = datetime(2026, 11, 26, 10, 20, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def settle(clock):
    """Past the seconds in which the newest change may still be joined by
    one stamped before it."""
    clock.shift(timedelta(seconds=FEED_SETTLE_SECONDS + 1))


def last_modified(signal) -> str:
    signal.refresh_from_db()
    return http_date(signal.updated_at.timestamp())


def test_a_settled_feed_carries_its_newest_change_and_a_weak_etag(producer, trader, clock):
    make_signal(producer, version=1)
    clock.shift(timedelta(seconds=30))
    newest = make_signal(producer, version=2)
    settle(clock)

    response = client_for(trader).get(FEED)

    assert response.status_code == 200 and len(response.json()["results"]) == 2
    assert response["Last-Modified"] == last_modified(newest)
    assert response["ETag"].startswith('W/"')
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-cache"}
    assert "Authorization" in response["Vary"]


def test_an_unchanged_feed_answers_304_to_either_validator_without_building_the_page(producer, trader, clock):
    make_signal(producer)
    settle(clock)
    client = client_for(trader)
    first = client.get(FEED)

    for conditional in ({"HTTP_IF_NONE_MATCH": first["ETag"]}, {"HTTP_IF_MODIFIED_SINCE": first["Last-Modified"]}):
        with CaptureQueriesContext(connection) as queries:
            unchanged = client.get(FEED, **conditional)
        assert unchanged.status_code == 304 and unchanged.content == b""
        assert len(queries) == 1  # the feed's newest change: no page, no count, no chart probe
        assert unchanged["ETag"] == first["ETag"] and unchanged["Last-Modified"] == first["Last-Modified"]
        assert set(unchanged["Cache-Control"].split(", ")) == {"private", "no-cache"}
        assert "Authorization" in unchanged["Vary"]

    earlier = http_date(datetime.fromisoformat("2026-11-26T10:19:59+00:00").timestamp())
    assert client.get(FEED, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


def assert_changed(client, before, clock):
    """Both of `before`'s validators get the new page, at once and once settled."""
    for _ in range(2):
        for conditional in ({"HTTP_IF_NONE_MATCH": before["ETag"]},
                            {"HTTP_IF_MODIFIED_SINCE": before["Last-Modified"]}):
            assert client.get(FEED, **conditional).status_code == 200
        settle(clock)
    after = client.get(FEED, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"] and after["Last-Modified"] != before["Last-Modified"]
    return after


def test_a_new_signal_changes_the_answer(producer, trader, clock):
    make_signal(producer, version=1)
    settle(clock)
    client = client_for(trader)
    before = client.get(FEED)

    newer = make_signal(producer, version=2)

    after = assert_changed(client, before, clock)
    assert str(newer.pk) in ids(after)


def test_a_decision_changes_the_answer_and_takes_its_signal_off_a_filtered_page(producer, trader, clock):
    signal = make_signal(producer)
    settle(clock)
    client = client_for(trader)
    pending_page = "/api/v1/signals/?status=pending"
    before, before_pending = client.get(FEED), client.get(pending_page)
    assert ids(before_pending) == {str(signal.pk)}

    decide_signal(user=trader, signal_id=str(signal.pk), decision="approved", consent_version="1")

    after = assert_changed(client, before, clock)
    assert after.json()["results"][0]["status"] == "approved"
    leaving = client.get(pending_page, HTTP_IF_NONE_MATCH=before_pending["ETag"],
                         HTTP_IF_MODIFIED_SINCE=before_pending["Last-Modified"])
    assert ids(leaving) == set()


def test_an_expiry_changes_the_answer_when_it_happens_and_its_storing_does_not(producer, trader, clock):
    make_signal(producer, expires_in=FEED_SETTLE_SECONDS + 60)
    settle(clock)
    client = client_for(trader)
    before = client.get(FEED)

    clock.shift(timedelta(seconds=60))  # past expires_at: it reads as expired, nothing stored yet

    after = assert_changed(client, before, clock)
    assert after.json()["results"][0]["status"] == "expired"
    assert services.expire_signals() == 1
    assert client.get(FEED, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304
    assert client.get(FEED, HTTP_IF_MODIFIED_SINCE=after["Last-Modified"]).status_code == 304


def test_another_users_activity_leaves_the_answer_alone(producer, other_producer, trader, other_user, clock):
    make_signal(producer)
    settle(clock)
    client = client_for(trader)
    before = client.get(FEED)

    theirs = make_signal(other_producer, expires_in=60)
    decide_signal(user=other_user, signal_id=str(make_signal(other_producer, version=2).pk), decision="rejected",
                  consent_version="1")
    clock.shift(timedelta(seconds=60))  # and `theirs` expires
    settle(clock)

    assert client.get(FEED, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304
    assert client.get(FEED, HTTP_IF_MODIFIED_SINCE=before["Last-Modified"]).status_code == 304
    theirs_now = client_for(other_user).get(FEED)
    assert theirs_now["ETag"] != before["ETag"] and str(theirs.pk) in ids(theirs_now)


def test_each_page_and_filter_has_its_own_etag(producer, trader, clock):
    make_signal(producer, version=1)
    make_signal(producer, version=2)
    settle(clock)
    client = client_for(trader)
    first = client.get(FEED, {"page_size": 1})
    second_url = first.json()["next"]
    second = client.get(second_url)
    assert second.status_code == 200

    assert client.get(second_url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
    assert client.get(second_url, HTTP_IF_NONE_MATCH=second["ETag"]).status_code == 304
    assert client.get(FEED, {"side": "sell"}, HTTP_IF_NONE_MATCH=client.get(FEED)["ETag"]).status_code == 200


def test_a_change_not_yet_settled_gets_the_hash_of_the_body(producer, trader):
    make_signal(producer)
    client = client_for(trader)

    response = client.get(FEED)

    # A signal stamped just before this one may still commit: no promise on
    # the change's time yet, only on the bytes.
    assert response["ETag"].startswith('"') and not response.has_header("Last-Modified")
    assert client.get(FEED, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_staff_polling_every_feed_get_the_hash_of_the_body(producer, other_producer, staff, clock):
    make_signal(producer)
    make_signal(other_producer)
    settle(clock)

    response = client_for(staff).get(FEED)

    assert response["ETag"].startswith('"') and not response.has_header("Last-Modified")
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-cache"}


def test_chart_links_signed_on_the_next_hour_change_the_answer(producer, trader, clock):
    make_signal(producer)
    clock.move_to(START.replace(minute=59, second=50), tick=False)
    client = client_for(trader)
    before = client.get(FEED)
    assert client.get(FEED, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304

    clock.shift(timedelta(seconds=10 + FEED_SETTLE_SECONDS + 1))

    after = client.get(FEED, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["Last-Modified"] == http_date(START.replace(hour=11, minute=0).timestamp())


def test_a_new_release_answers_in_full_what_the_previous_one_would_answer_304(producer, trader, clock, settings):
    make_signal(producer)
    settle(clock)
    client = client_for(trader)
    settings.RELEASE = "a1b2c3d"
    kept = client.get(FEED)
    assert client.get(FEED, HTTP_IF_NONE_MATCH=kept["ETag"]).status_code == 304

    # The same feed, deployed again from code that may write its signals differently.
    settings.RELEASE = "e4f5a6b"

    assert client.get(FEED, HTTP_IF_NONE_MATCH=kept["ETag"]).status_code == 200
