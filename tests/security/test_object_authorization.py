"""OWASP API1 (broken object-level authorization) and API5 (function level):
every kind of id, tried by the wrong user. Another user's object answers
exactly as a missing one (404), so ids cannot be probed; deciding on another
user's signal is 403 (docs/api.md#deciding); the audit log is staff-only."""

import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from approvals.models import Approval
from signals.models import Signal
from tests.security.conftest import assert_problem, bearer

pytestmark = pytest.mark.django_db

SMALL = "width=300&height=200&bars=10"


def comparable(response):
    body = response.json()
    return response.status_code, body["type"], body["detail"]


@pytest.mark.parametrize("template", ["/api/v1/signals/{}/", "/api/v1/signals/{}/chart/?" + SMALL])
def test_another_users_signal_reads_as_missing(alice, bob, alice_signal, alice_market_data, client_for, template):
    assert client_for(alice).get(template.format(alice_signal["id"])).status_code == 200
    theirs = client_for(bob).get(template.format(alice_signal["id"]))
    missing = client_for(bob).get(template.format(uuid.uuid4()))
    assert_problem(theirs, 404)
    assert comparable(theirs) == comparable(missing)


def test_another_users_approval_reads_as_missing(alice, bob, alice_approval, client_for):
    path = "/api/v1/approvals/{}/"
    assert client_for(alice).get(path.format(alice_approval["id"])).status_code == 200
    theirs = client_for(bob).get(path.format(alice_approval["id"]))
    assert_problem(theirs, 404)
    assert comparable(theirs) == comparable(client_for(bob).get(path.format(uuid.uuid4())))


def test_deciding_on_another_users_signal_is_403_and_changes_nothing(bob, alice_signal, consent_version, client_for):
    for decision in ("approved", "rejected"):
        response = client_for(bob).post("/api/v1/approvals/", {"signal": alice_signal["id"], "decision": decision,
                                                                "consent_version": consent_version}, format="json")
        assert_problem(response, 403)
    assert Signal.objects.get(pk=alice_signal["id"]).status == "pending"
    assert not Approval.objects.exists()


def test_lists_and_exports_never_show_another_users_rows(alice, bob, alice_approval, alice_signal, bob_engine,
                                                          client_for):
    assert bob_engine.signal().status_code == 201
    bob_client = client_for(bob)
    signals = bob_client.get("/api/v1/signals/?page_size=200").json()["results"]
    assert signals and all(s["owner"] == "bob" for s in signals)
    assert bob_client.get("/api/v1/approvals/").json()["results"] == []
    for path in ("/api/v1/signals/export.csv", "/api/v1/approvals/export.csv"):
        export = b"".join(bob_client.get(path).streaming_content).decode()
        assert alice_signal["id"] not in export and alice_approval["id"] not in export
    # Filters cannot widen the view.
    assert all(s["owner"] == "bob" for s in bob_client.get("/api/v1/signals/?instrument=EURUSD&status=approved")
               .json()["results"])


def test_staff_see_every_feed(operator, alice_signal, alice_approval, client_for):
    staff = client_for(operator)
    assert staff.get(f"/api/v1/signals/{alice_signal['id']}/").status_code == 200
    assert staff.get(f"/api/v1/approvals/{alice_approval['id']}/").status_code == 200


@pytest.mark.parametrize("chart", ["equity", "returns"])
def test_account_charts_draw_only_the_callers_account(alice, bob, alice_market_data, client_for, chart):
    path = f"/api/v1/charts/{chart}/?{SMALL}"
    assert client_for(alice).get(path).status_code == 200
    assert_problem(client_for(bob).get(path), 404)  # bob has no equity: alice's is never drawn for him


@pytest.mark.parametrize("path", ["/api/v1/audit/", "/api/v1/audit/export.csv", "/api/v1/audit/export.jsonl"])
def test_audit_log_is_staff_only(alice, operator, alice_signal, client_for, anon, path):
    assert_problem(client_for(alice).get(path), 403)
    assert_problem(anon.get(path), 401)
    assert client_for(operator).get(path).status_code == 200


@pytest.mark.parametrize("filters", ["actor=alice", "target_type=signal", "action=signal.create"])
def test_audit_filters_do_not_open_the_log_to_non_staff(alice, alice_signal, client_for, filters):
    assert_problem(client_for(alice).get(f"/api/v1/audit/?{filters}"), 403)


def tampered(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return f"{parts.path}?{urlencode(query)}"


def test_equity_link_cannot_be_pointed_at_another_account(alice, bob, alice_market_data, client_for, anon):
    link = client_for(alice).post("/api/v1/charts/links/", {"chart": "equity", "width": 300, "height": 200,
                                                            "bars": 10, "ttl": 600}, format="json").json()
    assert anon.get(tampered(link["url"])).status_code == 200
    assert_problem(anon.get(tampered(link["url"], owner=str(bob.pk))), 403)
    assert_problem(anon.get(tampered(link["url"], expires="9999999999")), 403)
    assert_problem(anon.get(tampered(link["url"], width="2400")), 403)


def test_signal_chart_link_cannot_be_moved_to_another_signal(alice, alice_signal, bob_engine, alice_market_data,
                                                              anon):
    bobs = bob_engine.signal().json()
    # Read again: the signal had no bars to draw (no chart_url) when it arrived.
    url = urlsplit(bearer(alice).get(f"/api/v1/signals/{alice_signal['id']}/").json()["chart_url"])
    assert url.path.endswith(f"/{alice_signal['id']}/")
    moved = url.path.replace(alice_signal["id"], bobs["id"]) + "?" + url.query
    assert_problem(anon.get(moved), 403)


def test_unauthenticated_callers_get_401_everywhere(anon, alice_signal, alice_approval):
    for path in ("/api/v1/signals/", f"/api/v1/signals/{alice_signal['id']}/", "/api/v1/approvals/",
                 f"/api/v1/approvals/{alice_approval['id']}/", "/api/v1/charts/equity/", "/api/v1/me/",
                 "/api/v1/signals/export.csv", "/api/v1/approvals/export.csv", "/api/v1/consent/current/",
                 f"/api/v1/signals/{alice_signal['id']}/chart/"):
        assert_problem(anon.get(path), 401)
    for path in ("/api/v1/approvals/", "/api/v1/charts/links/"):
        assert_problem(anon.post(path, {}, format="json"), 401)


def test_a_producer_signature_does_not_open_the_users_api(alice_engine, alice_signal):
    # Producers post; they never read feeds, even their owner's.
    response = alice_engine.api.get("/api/v1/signals/", HTTP_X_PRODUCER_ID=alice_engine.key_id,
                                    HTTP_X_TIMESTAMP="0", HTTP_X_SIGNATURE="sha256=00")
    assert_problem(response, 401)


@pytest.mark.parametrize("path", ["/api/v1/signals/not-a-uuid/", "/api/v1/approvals/1/",
                                  "/api/v1/signals/00000000-0000-0000-0000-000000000000/chart/"])
def test_malformed_or_guessed_ids_are_404(alice, client_for, path):
    assert_problem(client_for(alice).get(path), 404)
