"""The operators' bridge commands (create_bridge, rotate_bridge_secret,
disable_bridge); their --json output is what automation reads."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from execution.models import Bridge, BridgeSecret
from execution.tests.bridge_api import BridgeClient

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def create(name="alice-mt5", owner="alice", *extra):
    credentials = json.loads(run("create_bridge", name, "--owner", owner, "--account-ref", "50123", "--json", *extra))
    return Bridge.objects.get(key_id=credentials["key_id"]), credentials["secret"]


def polls(bridge, secret):
    return BridgeClient(bridge, secret).post("poll", {}).status_code


def test_create_bridge_json_prints_only_the_object(alice):
    output = run("create_bridge", "alice-mt5", "--owner", "alice", "--account-ref", "50123", "--json")
    credentials = json.loads(output)
    assert set(credentials) == {"key_id", "secret"} and credentials["key_id"].startswith("brg_")
    bridge = Bridge.objects.get(key_id=credentials["key_id"])
    assert (bridge.name, bridge.owner, bridge.account_ref, bridge.currency, bridge.enabled) == \
           ("alice-mt5", alice, "50123", "USD", True)
    assert polls(bridge, credentials["secret"]) == 200
    entry = AuditEntry.objects.get(action="bridge.create")
    assert (entry.actor_type, entry.actor, entry.target_id) == ("system", "manage.py create_bridge", str(bridge.pk))
    assert entry.meta["account_ref"] == "50123" and entry.meta["owner"] == "alice"
    assert credentials["secret"] not in json.dumps(entry.meta)


def test_create_bridge_text_shows_key_id_and_secret_once(alice):
    output = run("create_bridge", "alice-mt5", "--owner", "alice", "--account-ref", "50123", "--currency", "eur")
    bridge = Bridge.objects.get(name="alice-mt5")
    assert bridge.currency == "EUR"
    assert "Bridge 'alice-mt5' created for alice." in output and f"Key id: {bridge.key_id}" in output
    secret = output.split("Secret: ")[1].split()[0]
    assert output.count(secret) == 1
    assert polls(bridge, secret) == 200


@pytest.mark.parametrize("args, message", [
    (["--owner", "nobody", "--account-ref", "1"], "No user named 'nobody'"),
    (["--owner", "alice", "--account-ref", "1", "--currency", "EURO"], "three upper-case letters"),
    (["--owner", "alice", "--account-ref", "  "], "account is required"),
])
def test_create_bridge_refuses_bad_input_and_creates_nothing(alice, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_bridge", "alice-mt5", *args)
    assert not Bridge.objects.exists() and not AuditEntry.objects.filter(action="bridge.create").exists()


def test_one_enabled_bridge_per_owner_and_unique_names(alice, bob):
    bridge, _ = create("alice-mt5", "alice")
    with pytest.raises(CommandError, match=f"alice already has an enabled bridge, “alice-mt5” \\({bridge.key_id}\\)"):
        run("create_bridge", "alice-ctrader", "--owner", "alice", "--account-ref", "777")
    with pytest.raises(CommandError, match="A bridge named 'alice-mt5' already exists"):
        run("create_bridge", "alice-mt5", "--owner", "bob", "--account-ref", "777")
    assert Bridge.objects.count() == 1
    # Once the first is disabled, the owner may trade through another account.
    run("disable_bridge", bridge.key_id)
    replacement, secret = create("alice-ctrader", "alice")
    assert replacement.enabled and polls(replacement, secret) == 200


def test_rotate_json_and_grace_period(alice):
    bridge, secret = create()
    credentials = json.loads(run("rotate_bridge_secret", bridge.key_id, "--json"))
    assert set(credentials) == {"key_id", "secret"}
    assert credentials["key_id"] == bridge.key_id and credentials["secret"] != secret
    assert polls(bridge, secret) == 200  # the old one works for the 24 h grace period
    assert polls(bridge, credentials["secret"]) == 200
    old = BridgeSecret.objects.get(bridge=bridge, not_after__isnull=False)
    assert 86390 < (old.not_after - old.created_at).total_seconds() < 86410 + 60
    entry = AuditEntry.objects.get(action="bridge.rotate")
    assert (entry.actor, entry.meta["grace_seconds"]) == ("manage.py rotate_bridge_secret", 86400)
    assert credentials["secret"] not in json.dumps(entry.meta) and secret not in json.dumps(entry.meta)


def test_rotate_with_zero_grace_stops_the_old_secret_at_once(alice):
    bridge, secret = create()
    output = run("rotate_bridge_secret", bridge.key_id, "--grace-seconds", "0")
    new_secret = output.split("Secret: ")[1].split()[0]
    assert "stop working in 0 s" in output
    assert polls(bridge, secret) == 401
    assert polls(bridge, new_secret) == 200
    assert BridgeSecret.objects.live().filter(bridge=bridge).count() == 1


def test_rotate_refuses_unknown_key_negative_grace_and_disabled_bridges(alice):
    bridge, _ = create()
    with pytest.raises(CommandError, match="No bridge with key id 'brg_nope'"):
        run("rotate_bridge_secret", "brg_nope")
    with pytest.raises(CommandError, match="grace"):
        run("rotate_bridge_secret", bridge.key_id, "--grace-seconds", "-1")
    run("disable_bridge", bridge.key_id)
    with pytest.raises(CommandError, match="is disabled"):
        run("rotate_bridge_secret", bridge.key_id)
    assert bridge.secrets.count() == 1 and not AuditEntry.objects.filter(action="bridge.rotate").exists()


def test_disable_bridge_refuses_its_calls_from_now_on(alice):
    bridge, secret = create()
    output = run("disable_bridge", bridge.key_id)
    assert f"Bridge 'alice-mt5' ({bridge.key_id}) disabled" in output
    bridge.refresh_from_db()
    assert not bridge.enabled and bridge.disabled_at is not None
    assert polls(bridge, secret) == 401
    entry = AuditEntry.objects.get(action="bridge.disable")
    assert (entry.actor_type, entry.actor, entry.target_id) == ("system", "manage.py disable_bridge", str(bridge.pk))
    # Again: nothing changes, nothing more is audited.
    assert "already disabled" in run("disable_bridge", bridge.key_id)
    assert AuditEntry.objects.filter(action="bridge.disable").count() == 1
    with pytest.raises(CommandError, match="No bridge with key id"):
        run("disable_bridge", "brg_nope")
