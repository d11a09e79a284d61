"""Reading the audit log: GET /api/v1/audit/, /api/v1/audit/export.csv and
/api/v1/audit/export.jsonl."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from audit import chain
from audit.models import AuditEntry
from audit.selectors import entries_in_chain_order
from audit.services import append_entry
from core.csv_export import ROWS_PER_CHUNK

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/audit/"
EXPORT_URL = "/api/v1/audit/export.csv"
JSONL_URL = "/api/v1/audit/export.jsonl"


def assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == status


def assert_chain_recomputes(documents):
    """What any client holding the documents can do: rebuild every hash."""
    prev_hash = chain.GENESIS_HASH
    for document in sorted(documents, key=lambda d: d["seq"]):
        assert document["prev_hash"] == prev_hash
        assert chain.compute_hash(document) == document["hash"]
        prev_hash = document["hash"]


@pytest.fixture
def mixed_log(chain_of, trader):
    append_entry(action="auth.login", status="failure", actor_type="user", actor="mallory",
                 meta={"username": "mallory", "note": "naïve café ✓"})
    append_entry(action="auth.login", target_type="user", target_id=str(trader.pk), actor_type="user",
                 actor="trader")
    append_entry(action="signal.create", target_type="signal", target_id="sig-1", actor_type="producer",
                 actor="alpha", meta={"instrument": "EURUSD", "price": "1.08450"})
    return list(AuditEntry.objects.order_by("seq"))


@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL, JSONL_URL])
def test_anonymous_gets_401_problem(url, mixed_log):
    response = APIClient().get(url)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL, JSONL_URL])
def test_non_staff_gets_403_problem(url, trader_api, mixed_log):
    assert_problem(trader_api.get(url), 403)


def test_list_is_newest_first_and_each_entry_is_exactly_the_hashed_document(staff_api, mixed_log):
    response = staff_api.get(LIST_URL)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["seq"] for r in results] == [3, 2, 1]
    assert results == [chain.entry_document(e) for e in reversed(mixed_log)]
    assert set(results[0]) == {"id", "seq", "ts", "actor_type", "actor", "action", "target_type", "target_id",
                               "status", "ip", "user_agent", "request_id", "meta", "prev_hash", "hash"}
    assert results[2]["ts"].endswith("Z")


def test_hashes_recompute_from_the_api_json_across_pages(staff_api, chain_of, mixed_log):
    chain_of(7)
    documents, url = [], f"{LIST_URL}?page_size=4"
    while url:
        page = staff_api.get(url)
        assert page.status_code == 200
        body = json.loads(page.content.decode("utf-8"))  # as a client parses it, non-ASCII and all
        documents += body["results"]
        url = body["next"]
    assert [d["seq"] for d in documents] == list(range(10, 0, -1))
    assert_chain_recomputes(documents)


@pytest.mark.parametrize(("query", "expected_seqs"), [
    ("action=auth.login", [2, 1]),
    ("actor=trader", [2]),
    ("status=failure", [1]),
    ("target_type=signal&target_id=sig-1", [3]),
    ("action=auth.login&status=success", [2]),
    ("action=nothing", []),
])
def test_filters(staff_api, mixed_log, query, expected_seqs):
    response = staff_api.get(f"{LIST_URL}?{query}")
    assert [r["seq"] for r in response.json()["results"]] == expected_seqs


def test_since_is_inclusive_and_until_exclusive(staff_api, mixed_log):
    second = chain.format_ts(mixed_log[1].ts)
    assert [r["seq"] for r in staff_api.get(LIST_URL, {"since": second}).json()["results"]] == [3, 2]
    assert [r["seq"] for r in staff_api.get(LIST_URL, {"until": second}).json()["results"]] == [1]


@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL, JSONL_URL])
def test_bad_filter_values_are_422_problems(staff_api, mixed_log, url):
    response = staff_api.get(url, {"status": "maybe", "since": "yesterday"})
    assert_problem(response, 422)
    assert set(response.json()["errors"]) == {"status", "since"}


def read_export(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))


def document_from_csv(row):
    """A CSV row read back into an API document (for cells nothing defused)."""
    document = {key: (value if value != "" or key not in ("actor", "ip", "request_id") else None)
                for key, value in row.items()}
    document["seq"] = int(row["seq"])
    document["meta"] = json.loads(row["meta"])
    return document


def test_export_is_every_entry_in_chain_order_with_the_api_values(staff_api, chain_of, mixed_log):
    chain_of(ROWS_PER_CHUNK + 2)  # more than one streamed chunk
    rows = read_export(staff_api.get(EXPORT_URL))
    documents = [document_from_csv(row) for row in rows]
    assert [d["seq"] for d in documents] == list(range(1, ROWS_PER_CHUNK + 6))
    assert documents == [chain.entry_document(e) for e in AuditEntry.objects.order_by("seq")]


def test_export_defuses_cells_a_spreadsheet_would_run(staff_api, chain_of):
    chain_of(1, actor_type="producer", actor="=HYPERLINK(\"x\")", meta={"note": "+1", "at": "@home"})
    [row] = read_export(staff_api.get(EXPORT_URL))
    # `meta` is a JSON object, which starts with "{": nothing in it runs.
    assert (row["actor"], row["meta"]) == ('\'=HYPERLINK("x")', '{"at":"@home","note":"+1"}')


def test_export_takes_the_list_filters(staff_api, mixed_log):
    rows = read_export(staff_api.get(EXPORT_URL, {"action": "auth.login", "status": "failure"}))
    assert [(r["seq"], r["actor"], r["ip"]) for r in rows] == [("1", "mallory", "")]


def test_export_answers_csv_whatever_the_accept_header(staff_api, mixed_log):
    assert len(read_export(staff_api.get(EXPORT_URL, HTTP_ACCEPT="application/json"))) == 3


def read_jsonl(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/jsonl"
    assert response["Content-Disposition"] == 'attachment; filename="audit.jsonl"'
    body = b"".join(response.streaming_content)
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body.decode("utf-8").split("\n")[:-1]]


def test_jsonl_export_is_every_entry_in_chain_order_exactly_as_the_list_returns_it(staff_api, chain_of, mixed_log):
    chain_of(ROWS_PER_CHUNK + 2)  # more than one streamed chunk
    documents = read_jsonl(staff_api.get(JSONL_URL))
    listed = staff_api.get(LIST_URL, {"page_size": 200}).json()["results"]
    assert [d["seq"] for d in documents] == list(range(1, ROWS_PER_CHUNK + 6))
    assert documents[-len(listed):] == listed[::-1]
    assert documents[0]["meta"] == {"username": "mallory", "note": "naïve café ✓"}
    assert_chain_recomputes(documents)


def test_jsonl_export_keeps_what_a_spreadsheet_would_run(staff_api, db):
    append_entry(action="test.step", actor_type="producer", actor="=HYPERLINK(\"x\")", target_id="@SUM(1+1)")
    [document] = read_jsonl(staff_api.get(JSONL_URL))
    assert (document["actor"], document["target_id"]) == ('=HYPERLINK("x")', "@SUM(1+1)")
    assert_chain_recomputes([document])


def test_jsonl_export_takes_the_list_filters_and_any_accept_header(staff_api, mixed_log):
    documents = read_jsonl(staff_api.get(JSONL_URL, {"action": "auth.login"}, HTTP_ACCEPT="application/json"))
    assert [(d["seq"], d["actor"]) for d in documents] == [(1, "mallory"), (2, "trader")]


def test_export_reads_in_batches_not_all_at_once(chain_of):
    chain_of(10)
    with CaptureQueriesContext(connection) as queries:
        seqs = [e.seq for e in entries_in_chain_order(batch_size=4)]
    assert seqs == list(range(1, 11))
    # the head, then batches of 4, 4 and 2 rows
    assert len(queries) == 4
    assert all("LIMIT 4" in q["sql"] for q in queries.captured_queries[1:])


def test_openapi_schema_documents_the_list_and_both_exports(mixed_log):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    listing = schema["paths"]["/api/v1/audit/"]["get"]
    export = schema["paths"]["/api/v1/audit/export.csv"]["get"]
    jsonl = schema["paths"]["/api/v1/audit/export.jsonl"]["get"]
    filters = {"action", "actor", "target_type", "target_id", "status", "since", "until"}
    assert filters | {"cursor", "page_size"} <= {p["name"] for p in listing["parameters"]}
    assert filters <= {p["name"] for p in export["parameters"]} & {p["name"] for p in jsonl["parameters"]}
    assert list(export["responses"]["200"]["content"]) == ["text/csv"]
    assert list(jsonl["responses"]["200"]["content"]) == ["application/jsonl"]
    assert "verify_audit --file" in jsonl["responses"]["200"]["description"]
    for operation in (listing, export, jsonl):
        assert {"200", "401", "403", "422"} <= set(operation["responses"])
    documented = schema["components"]["schemas"]["AuditEntry"]["properties"]
    assert list(documented) == list(chain.entry_document(mixed_log[0]))


@pytest.mark.parametrize("url", [EXPORT_URL, JSONL_URL])
@pytest.mark.parametrize("method", ["post", "options", "delete"])
def test_other_methods_on_the_exports_are_405_problems(staff_api, url, method):
    assert_problem(getattr(staff_api, method)(url), 405)
