"""The published OpenAPI schema is what client generators turn into code:
clean operation ids, one tag per resource, a summary on every operation, and
the signed calls' own security schemes."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db

OPERATION_ID = re.compile(r"^[a-z]+(_[a-z]+)*$")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client
    with django_db_blocker.unblock():
        return yaml.safe_load(Client().get("/api/schema/").content)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_operation_ids_are_unique_identifiers_named_after_the_resource(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not OPERATION_ID.match(i)] == []
    by_route = {(path, method): operation["operationId"] for path, method, operation in operations(schema)}
    assert by_route[("/api/v1/signals/", "get")] == "signals_list"
    assert by_route[("/api/v1/signals/{id}/", "get")] == "signals_retrieve"
    assert by_route[("/api/v1/signals/export.csv", "get")] == "signals_export_csv"
    assert by_route[("/api/v1/positions/{id}/close/", "post")] == "positions_close"
    assert by_route[("/api/v1/bridge/poll", "post")] == "bridge_poll"
    assert by_route[("/api/v1/risk/policy/", "patch")] == "risk_policy_partial_update"
    assert by_route[("/charts/equity/", "get")] == "public_charts_equity"


def test_one_tag_per_resource(schema):
    for path, method, operation in operations(schema):
        assert len(operation["tags"]) == 1, (path, method)
        assert operation["tags"][0] in path, (path, method, operation["tags"])


def test_every_operation_has_a_summary(schema):
    missing = [f"{method.upper()} {path}" for path, method, operation in operations(schema)
               if not operation.get("summary")]
    assert missing == []


def test_signed_calls_name_their_signature_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["producerSignature"]["name"] == "X-Producer-Id"
    assert schemes["bridgeSignature"]["name"] == "X-Bridge-Id"
    assert schema["paths"]["/api/v1/signals/"]["post"]["security"] == [{"producerSignature": []}]
    assert schema["paths"]["/api/v1/bridge/poll"]["post"]["security"] == [{"bridgeSignature": []}]


def test_the_event_stream_is_published_though_no_drf_view_serves_it(schema):
    # A plain async view of the ASGI process (delivery/stream.py): clients
    # generated from the schema must still find it, its resume and its token.
    operation = schema["paths"]["/api/v1/events/stream/"]["get"]
    assert operation["operationId"] == "events_stream" and operation["tags"] == ["events"]
    assert {(p["in"], p["name"]) for p in operation["parameters"]} == {
        ("header", "Last-Event-ID"), ("query", "last_event_id"), ("query", "token")}
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {"401", "421", "422", "429"} <= set(operation["responses"])
