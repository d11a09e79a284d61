import io
import re

import pytest
from django.contrib.auth import get_user_model

from demo import decisions, signal_feed
from signals.models import Producer, Signal
from signals.tests.conftest import SignedClient, signal_body


@pytest.mark.django_db
def test_demo_is_idempotent_and_its_printed_secret_works(trader):
    users = {"trader": trader, "operator": get_user_model().objects.create_user("operator", is_staff=True)}
    secrets = []
    for _ in range(2):
        out = io.StringIO()
        signal_feed.load(stdout=out, users=users)
        secrets.append(re.search(r"secret \(valid until the next load_demo\): (\S+)", out.getvalue())[1])
    producer = Producer.objects.get(name=signal_feed.PRODUCER_NAME)
    assert Signal.objects.filter(producer=producer).count() == len(signal_feed.DEMO_SIGNALS)
    assert {s.effective_status() for s in Signal.objects.all()} == {"pending", "expired"}
    decisions.load(stdout=io.StringIO(), users=users)  # the feed's own decisions are made there
    assert {s.effective_status() for s in Signal.objects.all()} == {"pending", "approved", "rejected", "expired"}
    assert SignedClient(producer, secrets[1]).post(signal_body()).status_code == 201
    assert SignedClient(producer, secrets[0]).post(signal_body(version=2)).status_code == 401
