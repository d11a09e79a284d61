"""Rate limits (core/throttling.py): a spent budget answers 429 with
a Retry-After saying when the window reopens, and reopens then; budgets are
per principal; with the counters' store down, requests go through. The same
tests run on the local-memory cache (DRF's sliding log) and on Redis (the
fixed window, taken by each worker in slices)."""

import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.fixtures import bearer
from core import throttling

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


class BudgetOf1000(throttling.ScopedThrottle):
    rate = "1000/min"  # slices of 10

    def __init__(self, key):
        super().__init__()
        self.key = key


@pytest.fixture
def redis_calls(monkeypatch):
    from django_redis import get_redis_connection

    calls = []
    take_slice = throttling._take_slice
    monkeypatch.setattr(throttling, "_take_slice", lambda *args: calls.append(args) or take_slice(*args))
    return get_redis_connection(), calls


@pytest.mark.skipif(not ON_REDIS, reason="slices are taken from the Redis counter")
def test_a_busy_principal_costs_one_redis_call_per_slice(redis_calls):
    redis, calls = redis_calls
    throttle = BudgetOf1000("busy")
    assert all(throttle._allow_in_window(redis, "busy:window") for _ in range(100))
    assert len(calls) == 10


@pytest.mark.skipif(not ON_REDIS, reason="slices are taken from the Redis counter")
def test_workers_sharing_a_budget_never_exceed_it(redis_calls, monkeypatch):
    redis, _ = redis_calls
    workers = [{}, {}, {}]  # each process's own slices

    def allowed(attempt):
        monkeypatch.setattr(throttling, "_slices", workers[attempt % len(workers)])
        return BudgetOf1000("shared")._allow_in_window(redis, "shared:window")

    admitted = sum(allowed(attempt) for attempt in range(1500))
    # At most the slice each other worker still holds goes unused.
    assert 1000 - 2 * 9 <= admitted <= 1000


@pytest.mark.skipif(not ON_REDIS, reason="slices are taken from the Redis counter")
def test_small_budgets_are_counted_request_by_request(redis_calls, user_rate, alice):
    _, calls = redis_calls
    user_rate("199/min")
    client = bearer(alice)
    for _ in range(5):
        assert client.get(ME).status_code == 200
    assert [size for *_, size in calls] == [1] * 5


def test_requests_without_credentials_from_one_ipv6_64_share_the_anonymous_budget(monkeypatch):
    # One client holds a whole /64: counted by address, it would never meet the budget.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/min"})
    statuses = [APIClient().post("/api/v1/auth/token/refresh/", {"refresh": "not-a-token"}, format="json",
                                 REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code for n in range(1, 4)]
    assert statuses == [401, 401, 429]
    other_network = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": "not-a-token"}, format="json",
                                     REMOTE_ADDR="2001:db8:1:3::1")
    assert other_network.status_code == 401
