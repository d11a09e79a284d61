"""The operators' producer commands; their --json output is what automation reads."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from signals.models import Producer, ProducerSecret
from signals.tests.conftest import SignedClient, signal_body

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_producer_json_prints_only_the_object(trader):
    output = run("create_producer", "alpha", "--owner", "trader", "--json")
    credentials = json.loads(output)
    assert set(credentials) == {"key_id", "secret"}
    producer = Producer.objects.get(key_id=credentials["key_id"])
    assert (producer.name, producer.owner, producer.enabled) == ("alpha", trader, True)
    assert SignedClient(producer, credentials["secret"]).post(signal_body()).status_code == 201
    entry = AuditEntry.objects.get(action="producer.create")
    assert (entry.actor_type, entry.actor) == ("system", "manage.py create_producer")
    assert credentials["secret"] not in json.dumps(entry.meta)


def test_create_producer_text_shows_key_id_and_secret_once(trader):
    output = run("create_producer", "alpha", "--owner", "trader")
    producer = Producer.objects.get(name="alpha")
    assert f"Key id: {producer.key_id}" in output
    secret = output.split("Secret: ")[1].split()[0]
    assert SignedClient(producer, secret).post(signal_body()).status_code == 201


def test_create_producer_refuses_unknown_owner_and_duplicate_name(trader):
    with pytest.raises(CommandError, match="No user"):
        run("create_producer", "alpha", "--owner", "nobody")
    run("create_producer", "alpha", "--owner", "trader", "--json")
    with pytest.raises(CommandError, match="already exists"):
        run("create_producer", "alpha", "--owner", "trader")


def test_rotate_json_and_grace_period(producer, secret):
    credentials = json.loads(run("rotate_producer_secret", producer.key_id, "--json"))
    assert credentials["key_id"] == producer.key_id and credentials["secret"] != secret
    assert SignedClient(producer, secret).post(signal_body(version=1)).status_code == 201
    assert SignedClient(producer, credentials["secret"]).post(signal_body(version=2)).status_code == 201
    assert AuditEntry.objects.filter(action="producer.rotate").count() == 1


def test_rotate_with_zero_grace_stops_the_old_secret_at_once(producer, secret):
    credentials = json.loads(run("rotate_producer_secret", producer.key_id, "--grace-seconds", "0", "--json"))
    assert SignedClient(producer, secret).post(signal_body()).status_code == 401
    assert SignedClient(producer, credentials["secret"]).post(signal_body()).status_code == 201
    assert ProducerSecret.objects.live().filter(producer=producer).count() == 1


def test_rotate_refuses_unknown_key_and_negative_grace(producer):
    with pytest.raises(CommandError, match="No producer"):
        run("rotate_producer_secret", "prd_nope")
    with pytest.raises(CommandError, match="grace"):
        run("rotate_producer_secret", producer.key_id, "--grace-seconds", "-1")
    with pytest.raises(CommandError, match="grace"):  # past the dates Python holds: no traceback
        run("rotate_producer_secret", producer.key_id, "--grace-seconds", str(10**12))
    assert ProducerSecret.objects.filter(producer=producer).count() == 1


def test_disable_producer_refuses_its_requests_from_now_on(producer, secret):
    output = run("disable_producer", producer.key_id)
    assert "disabled" in output
    assert SignedClient(producer, secret).post(signal_body()).status_code == 401
    entry = AuditEntry.objects.get(action="producer.disable")
    assert (entry.actor_type, entry.actor, entry.target_id) == ("system", "manage.py disable_producer",
                                                                 str(producer.pk))
    assert "already disabled" in run("disable_producer", producer.key_id)
    assert AuditEntry.objects.filter(action="producer.disable").count() == 1
    with pytest.raises(CommandError, match="No producer"):
        run("disable_producer", "prd_nope")
