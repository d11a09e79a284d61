"""`POST /api/v1/approvals/`: every answer of docs/api.md#deciding, and the
order of the checks when a request is wrong in several ways at once."""

import uuid

import pytest
from rest_framework.test import APIClient

from approvals import services
from approvals.models import Approval
from approvals.views import DecisionThrottle
from audit.models import AuditEntry
from signals.models import Signal

pytestmark = pytest.mark.django_db

URL = "/api/v1/approvals/"


def decide(client, signal, **fields):
    body = {"signal": str(signal.pk) if isinstance(signal, Signal) else signal, "decision": "approved",
            "consent_version": "1", **fields}
    return client.post(URL, {k: v for k, v in body.items() if v is not ...}, format="json")


def problem_slug(response):
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["type"].rsplit("/", 1)[-1]


def assert_nothing_recorded(signal, status=Signal.Status.PENDING):
    signal.refresh_from_db()
    assert signal.status == status
    assert not Approval.objects.filter(signal=signal).exists()
    assert not AuditEntry.objects.filter(action="approval.create").exists()


# --- fine ---------------------------------------------------------------------

@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_a_decision_is_recorded_and_moves_the_signal(alice, client_for, make_signal, decision):
    signal = make_signal(alice)
    response = client_for(alice).post(
        URL, {"signal": str(signal.pk), "decision": decision, "consent_version": "1", "reason": "fits my plan"},
        format="json", REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="TraderApp/3.1 (iOS)",
    )
    assert response.status_code == 201
    body = response.json()
    approval = Approval.objects.get()
    assert body == {
        "id": str(approval.pk), "signal": str(signal.pk), "decision": decision, "consent_version": "1",
        "reason": "fits my plan", "ip": "198.51.100.23", "user_agent": "TraderApp/3.1 (iOS)",
        "created_at": body["created_at"],
    }
    assert body["created_at"].endswith("Z")
    assert response["Location"] == f"http://testserver/api/v1/approvals/{approval.pk}/"
    signal.refresh_from_db()
    assert signal.status == decision
    assert approval.user == alice


def test_the_decision_is_audited_with_consent_address_and_agent(alice, client_for, make_signal):
    signal = make_signal(alice)
    response = client_for(alice).post(URL, {"signal": str(signal.pk), "decision": "rejected",
                                            "consent_version": "1"}, format="json",
                                      REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="TraderApp/3.1")
    entry = AuditEntry.objects.get(action="approval.create")
    assert (entry.actor_type, entry.actor, entry.target_type, entry.target_id) == (
        "user", "alice", "approval", response.json()["id"])
    assert entry.meta == {"signal": str(signal.pk), "decision": "rejected", "consent_version": "1",
                          "ip": "198.51.100.23", "user_agent": "TraderApp/3.1"}
    assert entry.ip == "198.51.100.23"


def test_reason_is_optional(alice, client_for, make_signal):
    response = decide(client_for(alice), make_signal(alice), reason=...)
    assert response.status_code == 201
    assert response.json()["reason"] == ""


@pytest.mark.parametrize("peer,forwarded,recorded", [
    ("10.1.2.3", "6.6.6.6, 203.0.113.50", "203.0.113.50"),  # behind our proxy: the client it saw
    ("203.0.113.9", "1.1.1.1", "203.0.113.9"),  # a spoofed header from outside is ignored
])
def test_the_recorded_address_follows_the_trusted_proxy_rule(alice, client_for, make_signal, settings, peer,
                                                             forwarded, recorded):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = client_for(alice).post(URL, {"signal": str(make_signal(alice).pk), "decision": "approved",
                                            "consent_version": "1"}, format="json",
                                      REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert response.json()["ip"] == recorded
    assert AuditEntry.objects.get(action="approval.create").ip == recorded


def test_nul_characters_in_the_user_agent_are_dropped(alice, client_for, make_signal):
    response = client_for(alice).post(URL, {"signal": str(make_signal(alice).pk), "decision": "approved",
                                            "consent_version": "1"}, format="json", HTTP_USER_AGENT="Bad\x00Agent")
    assert response.status_code == 201
    assert response.json()["user_agent"] == "BadAgent"


def test_a_long_user_agent_is_kept_to_512_characters(alice, client_for, make_signal):
    response = client_for(alice).post(URL, {"signal": str(make_signal(alice).pk), "decision": "approved",
                                            "consent_version": "1"}, format="json", HTTP_USER_AGENT="A" * 2000)
    assert response.status_code == 201
    assert response.json()["user_agent"] == "A" * 512


# --- no or bad token ----------------------------------------------------------

@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
def test_no_or_bad_token_is_401(alice, make_signal, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    signal = make_signal(alice)
    response = decide(client, signal)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_nothing_recorded(signal)


# --- no such signal -----------------------------------------------------------

@pytest.mark.parametrize("signal_id", [str(uuid.uuid4()), "not-a-uuid", "1 OR 1=1"])
def test_an_unknown_signal_is_404(alice, client_for, signal_id):
    response = decide(client_for(alice), signal_id)
    assert response.status_code == 404
    assert problem_slug(response) == "not-found"


# --- another user's feed --------------------------------------------------------

def test_a_signal_in_another_users_feed_is_403(alice, bob, client_for, make_signal):
    signal = make_signal(bob)
    response = decide(client_for(alice), signal)
    assert response.status_code == 403
    assert problem_slug(response) == "permission-denied"
    assert_nothing_recorded(signal)


def test_staff_cannot_decide_for_a_user(bob, operator, client_for, make_signal):
    signal = make_signal(bob)
    assert decide(client_for(operator), signal).status_code == 403
    assert_nothing_recorded(signal)


# --- already decided ------------------------------------------------------------

@pytest.mark.parametrize("second", ["approved", "rejected"])
def test_a_second_decision_is_409_and_changes_nothing(alice, client_for, make_signal, second):
    client, signal = client_for(alice), make_signal(alice)
    first = decide(client, signal, decision="rejected")
    response = decide(client, signal, decision=second)
    assert response.status_code == 409
    assert problem_slug(response) == "already-decided"
    signal.refresh_from_db()
    assert signal.status == "rejected"
    assert list(Approval.objects.values_list("id", flat=True)) == [uuid.UUID(first.json()["id"])]
    assert AuditEntry.objects.filter(action="approval.create").count() == 1


def test_a_racing_insert_that_won_is_a_409(alice, make_signal, monkeypatch):
    """The unique constraint is the last word: even when the row lock did not
    stop a second writer (one that skipped it), the loser gets a 409."""
    signal = make_signal(alice)
    Approval.objects.create(signal=signal, user=alice, decision="approved", consent_version="1")
    real_check, calls = services._has_decision, []

    def first_check_ran_before_the_other_insert(signal):
        calls.append(signal.pk)
        return len(calls) > 1 and real_check(signal)

    monkeypatch.setattr(services, "_has_decision", first_check_ran_before_the_other_insert)
    with pytest.raises(services.Conflict) as excinfo:
        services.decide_signal(user=alice, signal_id=str(signal.pk), decision="rejected", consent_version="1")
    assert excinfo.value.slug == "already-decided"
    assert len(calls) == 2  # refused by the constraint, then confirmed
    assert Approval.objects.get().decision == "approved"


# --- expired --------------------------------------------------------------------

def test_a_signal_past_its_expiry_is_409_signal_expired(alice, client_for, make_signal):
    signal = make_signal(alice, expires_in=-1, created_ago=900)  # expire_signals has not run yet
    response = decide(client_for(alice), signal)
    assert response.status_code == 409
    assert problem_slug(response) == "signal-expired"
    assert_nothing_recorded(signal)


def test_a_signal_stored_as_expired_is_409_signal_expired(alice, client_for, make_signal):
    signal = make_signal(alice, expires_in=-60, created_ago=900, status=Signal.Status.EXPIRED)
    response = decide(client_for(alice), signal)
    assert problem_slug(response) == "signal-expired"
    assert_nothing_recorded(signal, status=Signal.Status.EXPIRED)


# --- consent outdated -----------------------------------------------------------

def test_an_outdated_consent_version_is_409_with_the_current_one(alice, operator, client_for, make_signal):
    services.publish_consent(text="Terms v2.", version="2", by=operator)
    signal = make_signal(alice)
    response = decide(client_for(alice), signal, consent_version="1")
    assert response.status_code == 409
    assert problem_slug(response) == "consent-outdated"
    assert response.json()["current_version"] == "2"
    assert_nothing_recorded(signal)
    assert decide(client_for(alice), signal, consent_version="2").status_code == 201


def test_an_unknown_consent_version_is_409_too(alice, client_for, make_signal):
    response = decide(client_for(alice), make_signal(alice), consent_version="99")
    assert problem_slug(response) == "consent-outdated"
    assert response.json()["current_version"] == "1"


# --- bad fields -----------------------------------------------------------------

@pytest.mark.parametrize("fields,errors", [
    ({"decision": "maybe"}, {"decision"}),
    ({"decision": ...}, {"decision"}),
    ({"decision": ""}, {"decision"}),
    ({"decision": ["approved"]}, {"decision"}),
    ({"consent_version": ...}, {"consent_version"}),
    ({"consent_version": 1}, {"consent_version"}),
    ({"consent_version": ""}, {"consent_version"}),
    ({"reason": "x" * 501}, {"reason"}),
    ({"reason": {"text": "no"}}, {"reason"}),
    ({"reason": "a\x00b"}, {"reason"}),  # no database text holds NUL
    ({"decision": "yes", "reason": "x" * 501}, {"decision", "reason"}),
])
def test_bad_fields_are_422_naming_each_field(alice, client_for, make_signal, fields, errors):
    signal = make_signal(alice)
    response = decide(client_for(alice), signal, **fields)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == errors
    assert_nothing_recorded(signal)


def test_a_reason_of_exactly_500_characters_is_fine(alice, client_for, make_signal):
    assert decide(client_for(alice), make_signal(alice), reason="é" * 500).status_code == 201


@pytest.mark.parametrize("signal_value", [..., None, 12345, ["x"]])
def test_a_missing_or_non_string_signal_is_422(alice, client_for, signal_value):
    response = decide(client_for(alice), signal_value)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"signal"}


def test_a_body_that_is_not_an_object_is_422(alice, client_for):
    response = client_for(alice).post(URL, ["approved"], format="json")
    assert response.status_code == 422


def test_malformed_json_is_400(alice, client_for):
    response = client_for(alice).post(URL, b'{"signal": ', content_type="application/json")
    assert response.status_code == 400


# --- too fast -------------------------------------------------------------------

def test_too_many_decisions_too_fast_is_429_per_user(alice, bob, client_for, make_signal, monkeypatch):
    monkeypatch.setattr(DecisionThrottle, "THROTTLE_RATES", {**DecisionThrottle.THROTTLE_RATES, "decision": "2/min"})
    client = client_for(alice)
    assert decide(client, make_signal(alice)).status_code == 201
    assert decide(client, str(uuid.uuid4())).status_code == 404  # refused attempts count too
    response = decide(client, make_signal(alice))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert problem_slug(response) == "rate-limited"
    assert decide(client_for(bob), make_signal(bob)).status_code == 201  # a budget per user
    assert client.get(URL).status_code == 200  # reading is not a decision


# --- the order of the checks ---------------------------------------------------

def test_401_comes_before_everything(alice, make_signal):
    response = decide(APIClient(), str(uuid.uuid4()), decision="maybe")
    assert response.status_code == 401


def test_404_comes_before_bad_fields(alice, client_for):
    response = decide(client_for(alice), str(uuid.uuid4()), decision="maybe", consent_version=...)
    assert response.status_code == 404


def test_403_comes_before_decided_expired_consent_and_fields(alice, bob, client_for, make_signal):
    signal = make_signal(bob, expires_in=-1, created_ago=900)
    response = decide(client_for(alice), signal, decision="maybe", consent_version="0")
    assert response.status_code == 403


def test_decided_comes_before_expired_consent_and_fields(alice, client_for, make_signal):
    signal = make_signal(alice, expires_in=-1, created_ago=900)
    Approval.objects.create(signal=signal, user=alice, decision="approved", consent_version="1")
    response = decide(client_for(alice), signal, decision="maybe", consent_version="0")
    assert problem_slug(response) == "already-decided"


def test_expired_comes_before_consent_and_fields(alice, client_for, make_signal):
    signal = make_signal(alice, expires_in=-1, created_ago=900)
    response = decide(client_for(alice), signal, decision="maybe", consent_version="0")
    assert problem_slug(response) == "signal-expired"


def test_consent_comes_before_fields(alice, client_for, make_signal):
    response = decide(client_for(alice), make_signal(alice), decision="maybe", consent_version="0",
                      reason="x" * 501)
    assert problem_slug(response) == "consent-outdated"


def test_a_scoped_ipv6_peer_is_recorded_without_its_zone(alice, client_for, make_signal):
    """`fe80::1%eth0` as the peer: the inet column keeps no zone (PostgreSQL
    would refuse the whole decision with one), so the zone is dropped."""
    signal = make_signal(alice)
    response = client_for(alice).post(URL, {"signal": str(signal.pk), "decision": "approved",
                                            "consent_version": "1"}, format="json", REMOTE_ADDR="fe80::1%eth0")
    assert response.status_code == 201
    assert Approval.objects.get().ip == "fe80::1"
    assert AuditEntry.objects.get(action="approval.create").ip == "fe80::1"
