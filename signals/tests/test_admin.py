"""The operators' console: producers through the audited services, the
whitelist, and signals an operator can read but not alter."""

import logging
import re
from datetime import UTC

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEntry
from machines.crypto import decrypt
from signals.models import Instrument, Producer, Signal
from signals.tests.conftest import SignedClient, signal_body
from tests.console_secrets import as_a_browser, assert_shown_once_and_kept_nowhere

pytestmark = pytest.mark.django_db

MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d")
PRODUCERS = "/admin/signals/producer/"


@pytest.fixture
def operator(client, db):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "ops-pass-1234")
    client.force_login(user)
    return client


def newest_secret(producer):
    """The producer's newest secret, as the service stored it."""
    return decrypt(producer.secrets.order_by("-created_at").first().encrypted_secret)


def test_create_producer_shows_the_secret_once_in_the_page_alone(operator, trader, caplog):
    caplog.set_level(logging.DEBUG)
    response = operator.post("/admin/signals/producer/add/", {"name": "desk-engine", "owner": trader.pk})
    responses = as_a_browser(operator, response)
    producer = Producer.objects.get(name="desk-engine")
    secret = newest_secret(producer)
    assert responses[-1].status_code == 200 and producer.key_id in responses[-1].content.decode()
    assert_shown_once_and_kept_nowhere(operator, responses, secret, caplog, next_page=PRODUCERS)
    assert producer.owner == trader
    assert SignedClient(producer, secret).post(signal_body()).status_code == 201
    assert AuditEntry.objects.filter(action="producer.create", target_id=str(producer.pk)).exists()
    assert secret not in operator.get(f"/admin/signals/producer/{producer.pk}/change/").content.decode()


def test_rotate_action_shows_the_new_secret_once_in_the_page_alone(operator, producer, secret, caplog):
    caplog.set_level(logging.DEBUG)
    response = operator.post("/admin/signals/producer/",
                             {"action": "rotate_secret", "_selected_action": [producer.pk]})
    responses = as_a_browser(operator, response)
    new_secret = newest_secret(producer)
    assert new_secret != secret and responses[-1].status_code == 200
    assert_shown_once_and_kept_nowhere(operator, responses, new_secret, caplog, next_page=PRODUCERS)
    assert SignedClient(producer, new_secret).post(signal_body(version=1)).status_code == 201
    assert SignedClient(producer, secret).post(signal_body(version=2)).status_code == 201  # grace period
    assert AuditEntry.objects.filter(action="producer.rotate", target_id=str(producer.pk)).exists()


def test_disable_action(operator, producer, secret):
    operator.post("/admin/signals/producer/", {"action": "disable", "_selected_action": [producer.pk]})
    producer.refresh_from_db()
    assert not producer.enabled and producer.disabled_at
    assert SignedClient(producer, secret).post(signal_body()).status_code == 401
    assert AuditEntry.objects.filter(action="producer.disable", target_id=str(producer.pk)).exists()
    # A disabled producer gets no new secret.
    response = operator.post("/admin/signals/producer/", {"action": "rotate_secret",
                                                          "_selected_action": [producer.pk]}, follow=True)
    assert "nothing rotated" in response.content.decode() and producer.secrets.count() == 1


def test_producer_fields_cannot_be_edited_after_creation(operator, producer, trader):
    other = get_user_model().objects.create_user("other", "o@example.com", "other-pass-1234")
    operator.post(f"/admin/signals/producer/{producer.pk}/change/",
                  {"name": "renamed", "owner": other.pk, "enabled": ""})
    producer.refresh_from_db()
    assert (producer.name, producer.owner, producer.enabled) == ("alpha-engine", trader, True)


def test_instrument_whitelist_is_managed_in_the_admin(operator):
    operator.post("/admin/signals/instrument/add/", {"symbol": "eurgbp", "description": "", "digits": 5,
                                                     "enabled": "on"})
    assert Instrument.objects.get(symbol="EURGBP").enabled
    eurusd = Instrument.objects.get(symbol="EURUSD")
    operator.post(f"/admin/signals/instrument/{eurusd.pk}/change/",
                  {"description": "Euro", "digits": 5, "enabled": ""})
    eurusd.refresh_from_db()
    assert not eurusd.enabled and eurusd.symbol == "EURUSD"


def test_signals_are_listed_filtered_and_read_only(operator, signer):
    signal_id = signer.post(signal_body(payload={"reason": "<b>breakout</b>", "rsi": 71})).json()["id"]
    status = Signal.objects.get(pk=signal_id).effective_status()
    listing = operator.get(f"/admin/signals/signal/?status={status}&q=alpha-engine")
    assert listing.status_code == 200 and signal_id in listing.content.decode()
    assert signal_id not in operator.get("/admin/signals/signal/?status=approved").content.decode()
    assert signal_id in operator.get(f"/admin/signals/signal/?q={signal_id}").content.decode()
    page = operator.get(f"/admin/signals/signal/{signal_id}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "&quot;reason&quot;: &quot;&lt;b&gt;breakout&lt;/b&gt;&quot;" in html  # formatted and escaped
    assert 'name="entry_price"' not in html and "_save" not in html
    response = operator.post(f"/admin/signals/signal/{signal_id}/change/", {"entry_price": "9.99"})
    assert response.status_code == 403
    assert str(Signal.objects.get(pk=signal_id).entry_price).startswith("1.0845")
    assert operator.get("/admin/signals/signal/add/").status_code == 403
    assert operator.post(f"/admin/signals/signal/{signal_id}/delete/", {"post": "yes"}).status_code == 403
    assert Signal.objects.filter(pk=signal_id).exists()


def utc(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_what_an_operator_reads_about_a_signal(operator, signer):
    signal_id = signer.post(signal_body(version=3, payload={"note": "<script>alert(1)</script>",
                                                            "desk": "Zürich"})).json()["id"]
    signal = Signal.objects.get(pk=signal_id)
    listing = operator.get("/admin/signals/signal/").content.decode()
    page = operator.get(f"/admin/signals/signal/{signal_id}/change/").content.decode()
    title = f"buy EURUSD v3 @ {utc(signal.time)}"
    assert f"<title>{title} | View signal" in page and f"<h2>{title}</h2>" in page
    for html in (listing, page):
        assert utc(signal.created_at) in html and utc(signal.time) in html
        assert not MICROSECONDS.search(html) and "a.m." not in html and "p.m." not in html
    assert utc(signal.expires_at) in page
    # The payload as indented JSON, escaped: it is text a strategy sent.
    assert '<pre>{\n  &quot;desk&quot;: &quot;Zürich&quot;,\n  &quot;note&quot;: ' \
           '&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\n}</pre>' in page
    assert "<script>alert(1)" not in page


def test_each_producer_lists_its_subscribers(operator, producer, make_user):
    from signals import services

    services.update_producer(producer=producer, public=True)
    fans = [make_user(name) for name in ("fan-one", "fan-two")]
    for fan in fans:
        services.subscribe(user=fan, producer=producer)
    services.update_producer(producer=producer, public=False)
    listing = operator.get(PRODUCERS).content.decode()
    assert re.search(r'class="field-subscriber_count">2<', listing)
    page = operator.get(f"{PRODUCERS}{producer.pk}/change/").content.decode()
    assert "fan-one" in page and "fan-two" in page
    subscriptions = operator.get("/admin/signals/subscription/", {"producer__id__exact": producer.pk})
    assert subscriptions.status_code == 200
    assert "fan-one" in subscriptions.content.decode()
    # Read-only: users subscribe through the API, which audits it.
    assert operator.get("/admin/signals/subscription/add/").status_code == 403
