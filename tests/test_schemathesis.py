"""Property-based run of the published OpenAPI schema (Schemathesis) against
a live server over real HTTP: for every operation, generated valid and
invalid requests must never get a 5xx, and every answer must match the
schema (documented status, content type, headers and body).

People's operations carry a normal user's JWT; the producers' and the
bridges' operations are HMAC-signed over the exact bytes sent, by a
`requests` auth hook, so the generated bodies reach validation instead of
stopping at 401. Operations on one object also run with the id of an object
the user owns, so the 200 bodies are checked too, not only 404s.

Each operation is its own test. The list comes from the in-process schema
generator at collection time; the test itself loads `/api/schema/` from the
live server and fails if the operation is not published there. (Schemathesis'
own `from_fixture` loader does not work under pytest 9: it sets the removed
`Node._nodeid`.)
"""

import time
from decimal import Decimal
from importlib import import_module

import pytest
import requests
import schemathesis
from django.apps import apps
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis import GenerationMode

from approvals import services as approval_services
from delivery.schema import STREAM_PATH
from execution import services as execution_services
from execution.models import Bridge
from machines import services as machine_services
from signals import services as signal_services
from tradeplatform_client import BRIDGE_KEY_HEADER, PRODUCER_KEY_HEADER, sign

# Deterministic and bounded: each operation gets this many examples per
# generation mode, which keeps the whole run within about a minute per pass.
MAX_EXAMPLES = 20

# Not the event stream: it never ends, and only the ASGI process serves it
# (this live server answers 421); delivery/tests/test_stream.py runs it over HTTP.
OPERATIONS = sorted(f"{method.upper()} {path}"
                    for path, item in SchemaGenerator().get_schema(public=True)["paths"].items()
                    for method in item if path != STREAM_PATH)


class Signature(requests.auth.AuthBase):
    """Signs the prepared request's final body bytes, as producers and
    bridges do (each with its own key id header)."""

    def __init__(self, key_id, secret, *, key_header):
        self.key_id, self.secret, self.key_header = key_id, secret, key_header

    def __call__(self, prepared):
        body = prepared.body or b""
        body = body.encode() if isinstance(body, str) else body
        prepared.headers.update(sign(self.secret, int(time.time()), body, key_id=self.key_id,
                                     key_header=self.key_header))
        return prepared


# Every check runs with its defaults but one: a request the schema calls
# valid may still get 422, because business rules no OpenAPI type can state
# decide it (the instrument whitelist operators edit, stop_loss below
# entry_price for a buy, the current consent version). 400/413/415 for valid
# data still fail the run.
# Two generation settings follow from how the API is called: credentials are
# supplied by this test, not generated (a generated "missing Authorization"
# case would be sent with the token anyway, and the `ignored_auth` check
# already resends every request without credentials); and unknown query
# parameters are ignored by design, as unknown body fields are,
# so they are not generated as "invalid" input.
CONFIG = {
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]}},
    "generation": {"with-security-parameters": False, "allow-extra-parameters": False},
}


@pytest.fixture
def published_schema(live_server, fuzzer):
    # Loaded per test: the live server may only use the database while a test holds it.
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/",
                                         config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def fuzzer(transactional_db, django_user_model, monkeypatch):
    """A normal user with a producer, a signal and a decision of their own, a
    bridge, the order the decision became and a position; an operator."""
    # Transactional tests flush the rows data migrations ship.
    import_module("signals.migrations.0002_ship_instruments").ship(apps, None)
    import_module("approvals.migrations.0002_ship_consent_v1").ship_v1(apps, None)
    # The generator sends hundreds of requests a minute; the limits are tested elsewhere.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {scope: "100000/min" for scope in SimpleRateThrottle.THROTTLE_RATES})
    user = django_user_model.objects.create_user("fuzzer", "fuzzer@example.com", "fuzzer-password-1")
    producer, secret = signal_services.create_producer(name="fuzz-engine", owner=user)
    bridge, bridge_secret = machine_services.create_client(model=Bridge, name="fuzz-mt5", owner=user,
                                                           account_ref="1")
    eurusd = apps.get_model("signals", "Instrument").objects.get(symbol="EURUSD")
    decided, _ = signal_services.ingest_signal(producer=producer, instrument=eurusd, side="buy",
                                               time=timezone.now(), version=1, entry_price=Decimal("1.08450"))
    approval = approval_services.decide_signal(user=user, signal_id=str(decided.pk), decision="approved",
                                               consent_version="1")
    execution_services.record_fills(bridge=bridge, fills=[{
        "fill_id": "fuzz-1", "client_order_id": None, "ticket": None, "position_ticket": "1", "instrument": "EURUSD",
        "side": "buy", "entry": "in", "volume": Decimal("0.10"), "price": Decimal("1.08450"), "time": timezone.now(),
        "commission": Decimal(0), "swap": Decimal(0), "profit": Decimal(0)}])
    position = bridge.positions.get()
    # The audit log is staff-only: run as staff there, so its 200 bodies are checked too
    # (tests/security checks that everyone else gets 403).
    operator = django_user_model.objects.create_user("fuzz-operator", "operator@example.com", "fuzzer-password-2",
                                                     is_staff=True)
    return {"headers": {"Authorization": f"Bearer {AccessToken.for_user(user)}"},
            "staff_headers": {"Authorization": f"Bearer {AccessToken.for_user(operator)}"},
            "signatures": {"producerSignature": Signature(producer.key_id, secret, key_header=PRODUCER_KEY_HEADER),
                           "bridgeSignature": Signature(bridge.key_id, bridge_secret, key_header=BRIDGE_KEY_HEADER)},
            "ids": {"/api/v1/signals/{id}/": decided.pk, "/api/v1/signals/{id}/chart/": decided.pk,
                    "/api/v1/approvals/{id}/": approval.pk, "/api/v1/orders/{id}/": approval.order.pk,
                    "/api/v1/positions/{id}/": position.pk, "/api/v1/positions/{id}/close/": position.pk}}


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_conforms_to_the_published_schema(published_schema, fuzzer, label):
    operation = published_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the published schema"
    definition = operation.definition.raw
    schemes = {scheme for requirement in definition.get("security") or [] for scheme in requirement}
    if signature := next((fuzzer["signatures"][scheme] for scheme in schemes if scheme in fuzzer["signatures"]),
                         None):
        call = {"auth": signature}
    elif operation.path.startswith("/api/v1/audit/"):
        call = {"headers": fuzzer["staff_headers"]}
    else:
        call = {"headers": fuzzer["headers"]}
    own_id = fuzzer["ids"].get(operation.path)
    # An operation without parameters or body has no invalid request to generate.
    mutable = definition.get("parameters") or "requestBody" in definition
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if mutable else [GenerationMode.POSITIVE]

    for mode in modes:
        fixed = {"path_parameters": {"id": str(own_id)}} if own_id and mode is GenerationMode.POSITIVE else {}

        @given(case=operation.as_strategy(generation_mode=mode, **fixed))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            if mode is GenerationMode.POSITIVE and case.query:
                # Only a cursor the server made is valid; a generated one is a
                # tampered cursor, rightly a 400 (tests/security/test_pagination_cursors.py).
                case.query.pop("cursor", None)
            case.call_and_validate(**call)

        run()
