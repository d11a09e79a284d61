"""Alerts from charting tools (docs/api.md#alert-hooks): POST /hooks/alerts/<token>/
with a signal body and no headers of its own, as TradingView sends it."""

import hashlib
import json
import logging
import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEntry
from core.logging import JsonFormatter
from signals import services
from signals.models import Producer, Signal
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

README = Path(settings.BASE_DIR) / "README.md"


def tradingview_template() -> str:
    """The alert message the README tells TradingView users to paste."""
    text = README.read_text()
    match = re.search(r"<!-- tradingview-template -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert match, "README.md lost its TradingView alert template"
    return match.group(1)


def rendered(*, ticker="EURUSD", action="buy", close="1.0845", when=None) -> bytes:
    """The body TradingView posts: the template with its placeholders replaced."""
    when = when or timezone.now()
    values = {"ticker": ticker, "strategy.order.action": action, "close": close, "exchange": "FX",
              "interval": "60", "strategy.order.id": "Long", "timenow": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = re.sub(r"\{\{([a-z.]+)\}\}", lambda m: values[m.group(1)], tradingview_template())
    assert "{{" not in body
    return body.encode()


def post_alert(url_or_path: str, body: bytes, client=None, **extra):
    """As TradingView does: a JSON body and no header of its own."""
    path = url_or_path.removeprefix("http://testserver")
    return (client or APIClient()).generic("POST", path, body, content_type="application/json", **extra)


@pytest.fixture
def hook(producer, trader):
    response = bearer(trader).post("/api/v1/producers/alpha-engine/alert-token/")
    assert response.status_code == 201, response.content
    return response.json()


def audit_count():
    return AuditEntry.objects.count()


# --- The token ------------------------------------------------------------------------------------------


def test_the_owner_gets_a_url_and_token_shown_once_and_stored_hashed(producer, trader):
    response = bearer(trader).post("/api/v1/producers/alpha-engine/alert-token/")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert set(data) == {"url", "token"}
    assert data["token"].startswith("tpa_") and len(data["token"]) >= 40
    assert data["url"] == f"http://testserver/hooks/alerts/{data['token']}/"
    producer.refresh_from_db()
    assert producer.alert_token_hash == hashlib.sha256(data["token"].encode()).hexdigest()
    assert data["token"] not in json.dumps(list(Producer.objects.values()), default=str)
    entry = AuditEntry.objects.get(action="producer.alert_token")
    assert (entry.actor, entry.meta) == ("trader", {"name": "alpha-engine"})
    assert data["token"] not in json.dumps(entry.meta)


@pytest.mark.parametrize("public", [False, True])
def test_only_the_owner_gets_a_token_others_404(producer, alice, public):
    services.update_producer(producer=producer, public=public)
    assert bearer(alice).post("/api/v1/producers/alpha-engine/alert-token/").status_code == 404
    producer.refresh_from_db()
    assert producer.alert_token_hash is None


def test_a_new_token_revokes_the_previous_one(hook, trader):
    fresh = bearer(trader).post("/api/v1/producers/alpha-engine/alert-token/").json()
    assert post_alert(hook["url"], rendered()).status_code == 404
    assert post_alert(fresh["url"], rendered()).status_code == 201


# --- Publishing -----------------------------------------------------------------------------------------


def test_the_readme_tradingview_template_publishes_a_signal(hook, trader):
    when = timezone.now().replace(microsecond=0)
    response = post_alert(hook["url"], rendered(when=when))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["instrument"], data["side"], data["entry_price"], data["version"]) == ("EURUSD", "buy", "1.08450", 1)
    assert data["time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["payload"] == {"exchange": "FX", "interval": "60", "order": "Long"}
    assert (data["owner"], data["producer"], data["deliveries"]) == ("trader", "alpha-engine", 1)
    assert response["Location"] == f"http://testserver/api/v1/signals/{data['id']}/"
    assert [s["id"] for s in bearer(trader).get("/api/v1/signals/").json()["results"]] == [data["id"]]
    entry = AuditEntry.objects.get(action="signal.create")
    assert (entry.actor_type, entry.actor, entry.target_id) == ("producer", "alpha-engine", data["id"])
    assert entry.meta["via"] == "alert-hook"


def test_an_alert_reaches_the_subscribers_too(hook, producer, alice):
    services.update_producer(producer=producer, public=True)
    bearer(alice).post("/api/v1/subscriptions/", {"producer": "alpha-engine"}, format="json")
    assert post_alert(hook["url"], rendered(action="sell")).json()["deliveries"] == 2
    copy = bearer(alice).get("/api/v1/signals/").json()["results"]
    assert [(s["owner"], s["side"]) for s in copy] == [("alice", "sell")]


def test_the_same_alert_again_is_a_replay_even_once_stale(hook, producer):
    services.update_producer(producer=producer, max_lag_seconds=300)
    body = rendered(when=timezone.now() - timedelta(seconds=90))
    first = post_alert(hook["url"], body)
    again = post_alert(hook["url"], body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    services.update_producer(producer=producer, max_lag_seconds=60)
    stale_retry = post_alert(hook["url"], body)  # a retry of what is stored stays idempotent
    assert (stale_retry.status_code, stale_retry.json()) == (200, first.json())
    assert Signal.objects.count() == 1


def test_alert_and_signed_ingestion_share_one_dedup(hook, signer):
    when = timezone.now().replace(microsecond=0)
    body = rendered(when=when)
    assert post_alert(hook["url"], body).status_code == 201
    same = json.loads(body)
    replay = signer.post(same)
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    other = signer.post({**same, "entry_price": "1.09000"})
    assert other.status_code == 409
    assert Signal.objects.count() == 1


def test_bad_fields_are_422_naming_them(hook):
    response = post_alert(hook["url"], rendered(ticker="NOTATICKER", close="1,0845"))
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"instrument", "entry_price"}
    assert not Signal.objects.exists()


# --- Stale alerts ---------------------------------------------------------------------------------------


def test_a_stale_alert_is_422_stale_alert_and_changes_nothing(hook):
    before = audit_count()
    response = post_alert(hook["url"], rendered(when=timezone.now() - timedelta(seconds=90)))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/stale-alert")
    assert "time" in problem["errors"]
    assert not Signal.objects.exists()
    assert audit_count() == before


def test_max_lag_is_the_producers_to_set(hook, trader):
    assert bearer(trader).patch("/api/v1/producers/alpha-engine/", {"max_lag": 300},
                                format="json").status_code == 200
    assert post_alert(hook["url"], rendered(when=timezone.now() - timedelta(seconds=90))).status_code == 201
    assert post_alert(hook["url"], rendered(when=timezone.now() - timedelta(seconds=400),
                                            close="1.0846")).status_code == 422


def test_stale_alerts_are_counted(hook):
    before = REGISTRY.get_sample_value("signals_rejected_total", {"reason": "stale_alert"}) or 0
    post_alert(hook["url"], rendered(when=timezone.now() - timedelta(seconds=90)))
    assert REGISTRY.get_sample_value("signals_rejected_total", {"reason": "stale_alert"}) == before + 1


# --- Unknown tokens -------------------------------------------------------------------------------------


def comparable(response):
    body = {k: v for k, v in response.json().items() if k not in ("request_id", "instance")}
    volatile = {"X-Request-ID", "Content-Length"}
    return response.status_code, body, sorted(name for name, _ in response.items() if name not in volatile)


@pytest.mark.parametrize("method", ["post", "get", "options"])
def test_an_unknown_or_revoked_token_is_a_404_like_any_unknown_url(hook, trader, method):
    revoked = hook["url"]
    bearer(trader).post("/api/v1/producers/alpha-engine/alert-token/")
    nowhere = APIClient().generic(method.upper(), "/hooks/no-such-thing/", rendered(),
                                  content_type="application/json")
    assert nowhere.status_code == 404
    for url in (revoked, "/hooks/alerts/tpa_" + "x" * 43 + "/", "/hooks/alerts/" + "y" * 500 + "/"):
        response = APIClient().generic(method.upper(), url.removeprefix("http://testserver"), rendered(),
                                       content_type="application/json")
        assert comparable(response) == comparable(nowhere), url
    assert not Signal.objects.exists()


def test_a_disabled_producers_token_is_a_404(hook, producer):
    services.disable_producer(producer=producer)
    assert post_alert(hook["url"], rendered()).status_code == 404


def test_unknown_tokens_are_audited_never_with_the_token(hook):
    post_alert("/hooks/alerts/tpa_guess/", rendered())
    entry = AuditEntry.objects.get(action="signal.ingest_denied")
    assert (entry.status, entry.meta) == ("failure", {"reason": "unknown_alert_token", "via": "alert-hook"})
    assert "tpa_guess" not in json.dumps(entry.meta)


def rates(monkeypatch, **changed):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **changed})


def test_unknown_tokens_are_throttled_per_address_but_never_a_valid_one(hook, monkeypatch):
    rates(monkeypatch, signature_failure="3/min")
    statuses = [post_alert(f"/hooks/alerts/tpa_guess{n}/", rendered()).status_code for n in range(5)]
    assert statuses == [404, 404, 404, 429, 429]
    limited = post_alert("/hooks/alerts/tpa_guess9/", rendered())
    assert limited.json()["type"].endswith("/rate-limited") and int(limited["Retry-After"]) > 0
    assert post_alert(hook["url"], rendered()).status_code == 201  # the same address, a valid token
    other_address = post_alert("/hooks/alerts/tpa_guess/", rendered(), REMOTE_ADDR="198.51.100.7")
    assert other_address.status_code == 404


def test_each_token_is_throttled(hook, trader, monkeypatch):
    rates(monkeypatch, alert_hook="2/min")
    statuses = [post_alert(hook["url"], rendered(ticker=ticker, close=close)).status_code
                for ticker, close in (("EURUSD", "1.0845"), ("GBPUSD", "1.2650"), ("AUDUSD", "0.6600"))]
    assert statuses == [201, 201, 429]
    assert Signal.objects.count() == 2
    # A token of its own, a budget of its own.
    other, _ = services.create_producer(name="beta-engine", owner=trader)
    token = services.rotate_alert_token(producer=other)
    assert post_alert(f"/hooks/alerts/{token}/", rendered()).status_code == 201


def test_the_token_never_reaches_the_access_log(hook, caplog):
    token = hook["token"]
    with caplog.at_level(logging.INFO, logger="tradeplatform.access"):
        post_alert(hook["url"], rendered())
        post_alert(f"/hooks/alerts/{token}x/", rendered())
    paths = [record.path for record in caplog.records if record.name == "tradeplatform.access"]
    assert paths == ["/hooks/alerts/…/", "/hooks/alerts/…/"]
    assert token not in caplog.text


def test_nor_any_other_log_line(hook):
    """Django names the path of a request that crashed, in its message and traceback."""
    token = hook["token"]
    try:
        raise RuntimeError(f"while serving /hooks/alerts/{token}/")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
                                   (f"/hooks/alerts/{token}/",), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Internal Server Error: /hooks/alerts/…/"
    assert token not in json.dumps(line) and "/hooks/alerts/…/" in line["traceback"]
