"""The operators' console: producers through the audited services, the
whitelist, and signals an operator can read but not alter."""

import re

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEntry
from signals.models import Instrument, Producer, Signal
from signals.tests.conftest import SignedClient, signal_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, db):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "ops-pass-1234")
    client.force_login(user)
    return client


def shown_secret(response):
    match = re.search(r"Secret for producer .*?<code>(?P<key>prd_\w+)</code>\): <code>(?P<secret>[\w-]+)</code>",
                      response.content.decode())
    assert match, "the secret is shown once after the action"
    return match["key"], match["secret"]


def test_create_producer_shows_the_secret_once(operator, trader):
    response = operator.post("/admin/signals/producer/add/", {"name": "desk-engine", "owner": trader.pk},
                             follow=True)
    assert response.status_code == 200
    key_id, secret = shown_secret(response)
    producer = Producer.objects.get(name="desk-engine")
    assert producer.key_id == key_id and producer.owner == trader
    assert SignedClient(producer, secret).post(signal_body()).status_code == 201
    assert AuditEntry.objects.filter(action="producer.create", target_id=str(producer.pk)).exists()
    page = operator.get(f"/admin/signals/producer/{producer.pk}/change/").content.decode()
    assert secret not in page
    assert secret not in operator.get("/admin/signals/producer/").content.decode()


def test_rotate_action_shows_the_new_secret_once(operator, producer, secret):
    response = operator.post("/admin/signals/producer/", {"action": "rotate_secret", "_selected_action": [producer.pk]},
                             follow=True)
    match = re.search(r"New secret for producer .*?</code>\): <code>(?P<secret>[\w-]+)</code>",
                      response.content.decode())
    assert match
    assert SignedClient(producer, match["secret"]).post(signal_body(version=1)).status_code == 201
    assert SignedClient(producer, secret).post(signal_body(version=2)).status_code == 201  # grace period
    assert AuditEntry.objects.filter(action="producer.rotate", target_id=str(producer.pk)).exists()


def test_disable_action(operator, producer, secret):
    operator.post("/admin/signals/producer/", {"action": "disable", "_selected_action": [producer.pk]})
    producer.refresh_from_db()
    assert not producer.enabled and producer.disabled_at
    assert SignedClient(producer, secret).post(signal_body()).status_code == 401
    assert AuditEntry.objects.filter(action="producer.disable", target_id=str(producer.pk)).exists()


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
    listing = operator.get("/admin/signals/signal/?status=expired&q=alpha-engine")
    assert listing.status_code == 200 and signal_id in listing.content.decode()
    assert signal_id not in operator.get("/admin/signals/signal/?status=pending").content.decode()
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
