"""What workers keep (each app's caches.py) is cleared by every change of the
rows it holds, in the process that made the change: at once, and again when
the change commits, so that a request that read the old rows in between does
not keep them."""

from functools import partial

import pytest
from django.test import RequestFactory

from accounts import caches as account_caches
from accounts import services as account_services
from execution import services as execution_services
from execution.models import Bridge
from execution.tests.bridge_api import BridgeClient
from machines import caches as machine_caches
from machines import services as machine_services
from signals import caches as signal_caches
from signals import services as signal_services
from signals.models import Instrument

pytestmark = pytest.mark.django_db


# Each change is made in two steps: the rows it needs are created first (which
# clears the caches too), then the change itself is returned, to be made.

def instrument_disabled(user):
    instrument = Instrument.objects.create(symbol="BTCUSD", digits=2)

    def change():
        instrument.enabled = False
        instrument.save()
    return change


def instrument_deleted(user):
    return Instrument.objects.create(symbol="BTCUSD", digits=2).delete


def producer_secret_rotated(user):
    producer, _ = signal_services.create_producer(name="engine", owner=user)
    return partial(signal_services.rotate_producer_secret, producer=producer, grace_seconds=0)


def producer_disabled(user):
    producer, _ = signal_services.create_producer(name="engine", owner=user)
    return partial(signal_services.disable_producer, producer=producer)


def bridge_secret_rotated(user):
    bridge, _ = machine_services.create_client(model=Bridge, name="mt5", owner=user, account_ref="50123")
    return partial(execution_services.rotate_bridge_secret, bridge=bridge, grace_seconds=0)


def bridge_disabled(user):
    bridge, _ = machine_services.create_client(model=Bridge, name="mt5", owner=user, account_ref="50123")
    return partial(execution_services.disable_bridge, bridge=bridge)


def user_deactivated(user):
    def change():
        user.is_active = False
        user.save(update_fields=["is_active"])
    return change


def user_deleted(user):
    return user.delete


def session_ended(user):
    request = RequestFactory().post("/api/v1/auth/logout/")
    tokens = account_services.log_in(request=request, user=user)
    return partial(account_services.log_out, request=request, refresh=tokens["refresh"])


CHANGES = [
    pytest.param(signal_caches.whitelist.get, instrument_disabled, id="whitelist, instrument saved"),
    pytest.param(signal_caches.whitelist.get, instrument_deleted, id="whitelist, instrument deleted"),
    pytest.param(partial(machine_caches.credentials.get, "probe"), producer_secret_rotated,
                 id="credentials, producer secret rotated"),
    pytest.param(partial(machine_caches.credentials.get, "probe"), producer_disabled,
                 id="credentials, producer disabled"),
    pytest.param(partial(machine_caches.credentials.get, "probe"), bridge_secret_rotated,
                 id="credentials, bridge secret rotated"),
    pytest.param(partial(machine_caches.credentials.get, "probe"), bridge_disabled, id="credentials, bridge disabled"),
    pytest.param(partial(account_caches.users.get, "probe"), user_deactivated, id="users, user deactivated"),
    pytest.param(partial(account_caches.users.get, "probe"), user_deleted, id="users, user deleted"),
    pytest.param(partial(account_caches.users.get, "probe"), session_ended, id="users, session ended"),
]


@pytest.mark.parametrize(("get", "made_by"), CHANGES)
def test_a_change_clears_what_this_worker_keeps_at_once_and_again_on_commit(
        get, made_by, alice, settings, django_capture_on_commit_callbacks):
    settings.WORKER_CACHE_SECONDS = 600
    change = made_by(alice)
    assert get(lambda: "read before the change") == "read before the change"
    assert get(lambda: "read again") == "read before the change"  # kept
    with django_capture_on_commit_callbacks(execute=True):
        change()
        # Cleared at once; then a request reads the rows as they were before the commit, and keeps them.
        assert get(lambda: "read before the commit") == "read before the commit"
    assert get(lambda: "read after the commit") == "read after the commit"


def test_the_whitelists_shared_copy_is_cleared_the_same_way(alice, settings, django_capture_on_commit_callbacks):
    settings.WORKER_CACHE_SECONDS = 0  # workers keep nothing: only the shared copy is kept
    get = signal_caches.whitelist.get
    change = instrument_disabled(alice)
    get(lambda: "read before the change")
    with django_capture_on_commit_callbacks(execute=True):
        change()
        assert get(lambda: "read before the commit") == "read before the commit"
    assert get(lambda: "read after the commit") == "read after the commit"


@pytest.fixture
def bridge_and_secret(alice):
    return machine_services.create_client(model=Bridge, name="alice-mt5", owner=alice, account_ref="50123")


def test_this_processs_bridge_disable_applies_at_once(bridge_and_secret, settings):
    settings.WORKER_CACHE_SECONDS = 60
    bridge, secret = bridge_and_secret
    signed = BridgeClient(bridge, secret)
    assert signed.post("poll", {}).status_code == 200  # this worker now keeps the bridge's credentials
    execution_services.disable_bridge(bridge=bridge)
    assert signed.post("poll", {}).status_code == 401


def test_this_processs_bridge_rotation_applies_at_once(bridge_and_secret, settings):
    settings.WORKER_CACHE_SECONDS = 60
    bridge, secret = bridge_and_secret
    signed = BridgeClient(bridge, secret)
    assert signed.post("poll", {}).status_code == 200
    new_secret = execution_services.rotate_bridge_secret(bridge=bridge, grace_seconds=0)
    assert signed.post("poll", {}).status_code == 401
    assert signed.post("poll", {}, secret=new_secret).status_code == 200
