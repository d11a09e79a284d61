"""OWASP API4: every write path has a rate limit, answered with a 429
problem and `Retry-After`. Rates are lowered for the test: DRF reads
THROTTLE_RATES once at import, hence the monkeypatch of the class attribute."""

import pytest
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from approvals.models import Approval
from signals.models import Signal
from tests.security.conftest import PASSWORD, assert_problem, bearer, candle_body, equity_body, signal_body

pytestmark = pytest.mark.django_db

BUDGET = 3


@pytest.fixture
def limit(monkeypatch):
    """Lowers the named scopes to BUDGET a minute; every other scope is
    raised out of the way, so the test shows which limit answers."""

    def apply(*scopes):
        rates = {scope: f"{BUDGET}/min" if scope in scopes else "10000/min"
                 for scope in SimpleRateThrottle.THROTTLE_RATES}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)

    return apply


def assert_throttled(response):
    body = assert_problem(response, 429)
    assert body["type"].endswith("rate-limited")
    assert 0 < int(response["Retry-After"]) <= 300


def spend(send, count=BUDGET):
    for _ in range(count):
        assert send().status_code < 400


def test_signal_ingestion_is_limited_per_producer(alice_engine, bob_engine, limit):
    limit("producer")
    spend(alice_engine.signal)
    assert_throttled(alice_engine.signal())
    assert Signal.objects.count() == BUDGET
    assert bob_engine.signal().status_code == 201  # another producer has its own budget


@pytest.mark.parametrize("path, make", [("/api/v1/candles/", candle_body), ("/api/v1/equity/", equity_body)])
def test_market_data_ingestion_is_limited(alice_engine, path, make, limit):
    limit("producer")
    spend(lambda: alice_engine.post(path, make()))
    assert_throttled(alice_engine.post(path, make()))


def test_refused_signatures_do_not_spend_a_producers_budget(alice_engine, limit):
    limit("producer")
    for _ in range(BUDGET + 2):
        assert alice_engine.post("/api/v1/signals/", signal_body(), secret="forged").status_code == 401
    assert alice_engine.signal().status_code == 201


def test_decisions_are_limited(alice, alice_engine, consent_version, limit):
    limit("decision")
    client = bearer(alice)
    signals = [alice_engine.signal().json()["id"] for _ in range(BUDGET + 1)]

    def decide(signal_id):
        return client.post("/api/v1/approvals/", {"signal": signal_id, "decision": "approved",
                                                   "consent_version": consent_version}, format="json")

    for signal_id in signals[:BUDGET]:
        assert decide(signal_id).status_code == 201
    assert_throttled(decide(signals[BUDGET]))
    assert Approval.objects.count() == BUDGET
    assert Signal.objects.get(pk=signals[BUDGET]).status == "pending"


def test_chart_links_are_limited(alice, limit):
    limit("chart_link")
    client = bearer(alice)
    spend(lambda: client.post("/api/v1/charts/links/", {"chart": "equity", "ttl": 60}, format="json"))
    assert_throttled(client.post("/api/v1/charts/links/", {"chart": "equity", "ttl": 60}, format="json"))


def test_successful_logins_are_limited_per_address(alice, anon, limit):
    limit("anon")
    spend(lambda: anon.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"))
    assert_throttled(anon.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"))


def test_failed_logins_are_limited_per_username(alice, anon, settings, limit):
    limit()
    settings.LOGIN_FAILURE_LIMIT = 2
    for address in ("192.0.2.1", "192.0.2.2"):
        assert anon.post("/api/v1/auth/token/", {"username": "alice", "password": "guess"}, format="json",
                         REMOTE_ADDR=address).status_code == 401
    # A third address, even with the right password: the username is locked for the window.
    assert_throttled(anon.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json",
                               REMOTE_ADDR="192.0.2.3"))


def test_token_refresh_is_limited(alice, anon, limit):
    limit("anon")
    spend(lambda: anon.post("/api/v1/auth/token/refresh/", {"refresh": str(RefreshToken.for_user(alice))},
                            format="json"))
    assert_throttled(anon.post("/api/v1/auth/token/refresh/", {"refresh": str(RefreshToken.for_user(alice))},
                               format="json"))


def test_logout_is_limited(alice, anon, limit):
    limit("anon")
    spend(lambda: anon.post("/api/v1/auth/logout/", {"refresh": str(RefreshToken.for_user(alice))}, format="json"))
    assert_throttled(anon.post("/api/v1/auth/logout/", {"refresh": str(RefreshToken.for_user(alice))},
                               format="json"))


@pytest.mark.parametrize("path, make", [("/api/v1/signals/", signal_body), ("/api/v1/candles/", candle_body)])
def test_forged_signatures_are_limited_per_address(alice_engine, limit, settings, path, make):
    """Each refused signature is verified against the database and written
    to the audit log (one entry, under the chain's single lock): unbounded,
    one address could flood the log and stall every real write. Refusals
    must not spend the producer's own budget (above), so they need a budget
    of their own, per client address, like failed logins. Whichever limit
    the implementation uses, every one is lowered here."""
    limit(*SimpleRateThrottle.THROTTLE_RATES)
    settings.LOGIN_FAILURE_LIMIT = BUDGET
    statuses = [alice_engine.post(path, make(), secret="forged").status_code for _ in range(2 * BUDGET)]
    assert set(statuses) == {401, 429} and statuses[-1] == 429, statuses
    assert alice_engine.post(path, make(), REMOTE_ADDR="192.0.2.77").status_code in (200, 201)
