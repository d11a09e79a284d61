"""OWASP API3 (broken object property level authorization): fields a client
must not set (ids, owners, statuses, times, network facts, audit fields) are
ignored; the server's own values win."""

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from approvals.models import Approval
from audit.models import AuditEntry
from charting.models import Candle, EquityPoint
from signals.models import Signal
from tests.security.conftest import PASSWORD, bearer, candle_body, equity_body, signal_body

pytestmark = pytest.mark.django_db

LONG_AGO = "2000-01-01T00:00:00Z"


def recent(text: str) -> bool:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return abs(datetime.now(timezone.utc) - moment) < timedelta(minutes=1)


def test_signal_ignores_server_owned_fields(alice_engine, bob, bob_engine):
    chosen = str(uuid.uuid4())
    body = signal_body(id=chosen, status="approved", owner=bob.username, owner_id=str(bob.pk),
                       producer=bob_engine.model.name, producer_id=str(bob_engine.model.pk), created_at=LONG_AGO,
                       fingerprint="0" * 64, approval={"id": chosen, "decision": "approved"},
                       chart_url="https://evil.example/x.png", key_id=bob_engine.key_id, seq=1, hash="0" * 64)
    response = alice_engine.post("/api/v1/signals/", body)
    assert response.status_code == 201
    resource = response.json()
    assert resource["id"] != chosen
    assert (resource["status"], resource["owner"], resource["producer"], resource["approval"]) == (
        "pending", "alice", "alice-engine", None)
    assert recent(resource["created_at"])
    assert resource["chart_url"] is None  # no bars to draw yet; never the client's URL
    stored = Signal.objects.get(pk=resource["id"])
    assert (stored.owner.username, stored.producer.name, stored.status) == ("alice", "alice-engine", "pending")
    assert not Signal.objects.filter(pk=chosen).exists()


def test_approval_ignores_server_owned_fields(alice, bob, alice_signal, consent_version):
    chosen = str(uuid.uuid4())
    response = bearer(alice).post("/api/v1/approvals/", {
        "signal": alice_signal["id"], "decision": "rejected", "consent_version": consent_version,
        "id": chosen, "user": str(bob.pk), "user_id": str(bob.pk), "ip": "203.0.113.66",
        "user_agent": "forged-agent", "created_at": LONG_AGO, "status": "approved",
    }, format="json", HTTP_USER_AGENT="real-agent/1.0")
    assert response.status_code == 201
    approval = response.json()
    assert approval["id"] != chosen
    assert (approval["ip"], approval["user_agent"], approval["decision"]) == ("127.0.0.1", "real-agent/1.0",
                                                                              "rejected")
    assert recent(approval["created_at"])
    assert Approval.objects.get(pk=approval["id"]).user == alice
    assert Signal.objects.get(pk=alice_signal["id"]).status == "rejected"


def test_forwarded_for_from_an_untrusted_peer_is_not_the_client_address(alice, alice_signal, consent_version):
    response = bearer(alice).post("/api/v1/approvals/", {"signal": alice_signal["id"], "decision": "approved",
                                                          "consent_version": consent_version}, format="json",
                                  HTTP_X_FORWARDED_FOR="198.51.100.7", HTTP_X_REAL_IP="198.51.100.8")
    assert response.json()["ip"] == "127.0.0.1"
    assert AuditEntry.objects.get(action="approval.create").ip == "127.0.0.1"


def test_equity_lands_in_the_producers_owners_account_only(alice_engine, bob):
    body = equity_body(count=3)
    body["owner"] = str(bob.pk)
    body["user"] = bob.username
    for point in body["points"]:
        point["owner"] = str(bob.pk)
        point["id"] = 1
    assert alice_engine.post("/api/v1/equity/", body).status_code == 200
    assert set(EquityPoint.objects.values_list("owner__username", flat=True)) == {"alice"}


def test_candle_rows_ignore_ids_and_bookkeeping(alice_engine):
    body = candle_body(count=2)
    for candle in body["candles"]:
        candle.update(id=999, updated_at=LONG_AGO, instrument="XAUUSD")
    assert alice_engine.post("/api/v1/candles/", body).json() == {"inserted": 2, "updated": 0}
    assert set(Candle.objects.values_list("instrument__symbol", flat=True)) == {"EURUSD"}
    assert 999 not in Candle.objects.values_list("id", flat=True)


def test_chart_link_is_always_for_the_callers_account(alice, bob):
    response = bearer(alice).post("/api/v1/charts/links/", {"chart": "equity", "owner": str(bob.pk),
                                                             "user": str(bob.pk), "expires": "9999999999",
                                                             "signature": "0" * 64, "ttl": 60}, format="json")
    assert response.status_code == 201
    query = parse_qs(urlsplit(response.json()["url"]).query)
    assert query["owner"] == [str(alice.pk)]
    assert int(query["expires"][0]) < 9999999999


def test_login_cannot_claim_staff(alice, anon):
    tokens = anon.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD, "is_staff": True,
                                               "is_superuser": True, "user_id": "x"}, format="json").json()
    me = bearer(tokens["access"]).get("/api/v1/me/").json()
    assert me["is_staff"] is False
    assert bearer(tokens["access"]).get("/api/v1/audit/").status_code == 403


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/signals/{signal}/", "/api/v1/approvals/{approval}/",
                                  "/api/v1/audit/", "/api/v1/consent/current/"])
def test_no_write_methods_on_read_resources(operator, alice_approval, alice_signal, method, path):
    # Staff included: a decision, a signal and the audit log are never edited through the API.
    url = path.format(signal=alice_signal["id"], approval=alice_approval["id"])
    response = getattr(bearer(operator), method)(url, {"status": "rejected", "decision": "rejected"}, format="json")
    assert response.status_code == 405
    assert Signal.objects.get(pk=alice_signal["id"]).status == "approved"
