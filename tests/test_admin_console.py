"""Every page of the operators' console, as an operator reads it: times in
UTC to the second, and no link that leads nowhere."""

import re

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from rest_framework_simplejwt.tokens import RefreshToken

from delivery import services as delivery_services
from execution.tests.trading import trade
from risk import services as risk_services
from risk.policy import BUILT_IN
from signals import services as signal_services
from signals.models import Instrument, Producer

pytestmark = pytest.mark.django_db

# "07:04:05.286616" (Python's str of a datetime) or "7:04 a.m." (English's default format).
UNREADABLE_TIME = re.compile(r"\d\d:\d\d:\d\d\.\d|\d\d:\d\d:\d\d\+\d\d:\d\d|\b[ap]\.m\.")
UTC_TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\b")
# Payloads and audit details are shown as sent (ISO 8601 strings included).
JSON_SHOWN_AS_SENT = re.compile(r"<pre>.*?</pre>", re.DOTALL)


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def every_kind_of_record(shipped_instruments, superuser, make_user):
    """The demo's producers, signals, decisions, candles, equity and audit
    entries, a session and a revoked one, a bridge's trading history, the
    operators' risk policy and an instrument's market hours."""
    call_command("load_demo", force=True, stdout=open("/dev/null", "w"))
    RefreshToken.for_user(superuser)
    RefreshToken.for_user(superuser).blacklist()
    desk = make_user("console-desk")
    # Subscribed to the demo's strategy, with a webhook endpoint (nothing
    # listens there: its deliveries fail and are retried), before it trades.
    demo_strategy = Producer.objects.get(name="demo-strategy")
    signal_services.subscribe(user=desk, producer=demo_strategy)
    delivery_services.create_endpoint(owner=desk, url="http://127.0.0.1:9/hooks",
                                      event_types=["order.updated", "position.opened", "position.closed"])
    trade(desk, name="console-desk-mt5")
    risk_services.set_policy(user=None, values=BUILT_IN.settings(), changed_by=superuser)
    risk_services.set_market_hours(instrument=Instrument.objects.get(symbol="XAUUSD"), schedule="fx")


def test_every_page_shows_times_in_utc_to_the_second(console, every_kind_of_record):
    pages, without_rows = [], []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        first = model_admin.get_queryset(console.get("/").wsgi_request).first()
        if first is None:
            without_rows.append(opts.label)
            continue
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[first.pk]))
    # Every kind of record has its change page read (groups are not used).
    assert set(without_rows) <= {"auth.Group"}
    shown_times = 0
    for url in pages:
        response = console.get(url)
        page = JSON_SHOWN_AS_SENT.sub("", response.content.decode())
        assert response.status_code == 200, url
        assert not UNREADABLE_TIME.findall(page), url
        shown_times += len(UTC_TIME.findall(page))
    assert shown_times > 100


def test_no_view_site_link_to_a_missing_page(console):
    page = console.get(reverse("admin:index")).content.decode()
    assert "View site" not in page
