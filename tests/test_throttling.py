"""Rate limits (tradeplatform/throttling.py): a spent budget answers 429 with
a Retry-After saying when the window reopens, and reopens then; budgets are
per principal; with the counters' store down, requests go through. The same
tests run on the local-memory cache (DRF's sliding log) and on Redis (the
one-round-trip fixed window)."""

import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.throttling import SimpleRateThrottle

from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
ON_REDIS = settings.CACHES["default"]["BACKEND"].startswith("django_redis")


@pytest.fixture
def user_rate(monkeypatch):
    def apply(rate):
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "user": rate})

    return apply


def test_a_spent_budget_reopens_when_its_window_ends(alice, bob, user_rate):
    user_rate("2/s")
    client = bearer(alice)
    assert [client.get(ME).status_code for _ in range(2)] == [200, 200]
    refused = client.get(ME)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert bearer(bob).get(ME).status_code == 200  # a budget of his own
    time.sleep(1.1)
    assert client.get(ME).status_code == 200


def test_retry_after_is_the_rest_of_the_window(alice, user_rate):
    user_rate("1/min")
    client = bearer(alice)
    assert client.get(ME).status_code == 200
    refused = client.get(ME)
    assert refused.status_code == 429
    assert 50 <= int(refused["Retry-After"]) <= 60


@pytest.mark.skipif(not ON_REDIS, reason="the fixed window lives in Redis (REDIS_URL)")
def test_a_counter_that_lost_its_expiry_does_not_lock_the_user_out_for_good(alice, user_rate):
    """INCR recreates a counter that expired an instant earlier without any
    expiry; the throttle must give it one, or the user stays refused forever."""
    from django_redis import get_redis_connection

    user_rate("1/min")
    key = cache.make_key(f"throttle_user_user:{alice.pk}:window")
    redis = get_redis_connection()
    redis.set(key, 5)  # over budget, and no expiry
    refused = bearer(alice).get(ME)
    assert refused.status_code == 429
    assert 0 < redis.pttl(key) <= 60_000
    assert 50 <= int(refused["Retry-After"]) <= 60


def test_with_the_counters_store_down_requests_go_through(alice, user_rate):
    user_rate("1/min")
    dead_redis = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                              "LOCATION": "redis://127.0.0.1:6390/0",  # nothing listens here
                              "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5,
                                          "IGNORE_EXCEPTIONS": True}}}
    client = bearer(alice)
    with override_settings(CACHES=dead_redis):
        assert [client.get(ME).status_code for _ in range(3)] == [200, 200, 200]
