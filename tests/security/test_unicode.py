"""Unicode in names and payloads: stored and returned exactly, looked up
without confusable folding, and never a crash on either database."""

import pytest

from audit.verification import verify_chain
from signals import services as signal_services
from signals.models import Signal
from tests.security.conftest import PASSWORD, Producer, assert_problem, bearer
from tests.security.test_hostile_input import NUMERIC_INPUTS, assert_number_refused

pytestmark = pytest.mark.django_db

TEXTS = ["Zoë", "北京-策略", "\u202eevil\u202c", "e\u0301", "🚀📉", "ﷺ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ⅻ", "İstanbul"]


@pytest.mark.parametrize("username", ["zoë", "北京", "δοκιμή", "user\u200b"])
def test_unicode_usernames_log_in_and_are_audited(make_user, anon, username):
    make_user(username)
    tokens = anon.post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json").json()
    assert bearer(tokens["access"]).get("/api/v1/me/").json()["username"] == username
    assert verify_chain().ok


def test_unicode_producer_name_and_payload_round_trip(alice):
    engine = Producer(*signal_services.create_producer(name="策略-α 🚀", owner=alice))
    payload = {text: text for text in TEXTS} | {"nested": {"ключ": ["值", "🚀"]}}
    response = engine.signal(payload=payload)
    assert response.status_code == 201
    assert response.json()["producer"] == "策略-α 🚀"
    stored = bearer(alice).get(f"/api/v1/signals/{response.json()['id']}/").json()
    assert stored["payload"] == payload
    assert verify_chain().ok


@pytest.mark.parametrize("instrument", ["ЕURUSD", "ＥＵＲＵＳＤ", "EURUSD\u200b", "EUR\u0000USD", "eurusd\u0307",
                                        "EURUSD\ufeff", "€URUSD"])
def test_confusable_instruments_are_not_folded_into_real_ones(alice_engine, instrument):
    # Cyrillic Е, fullwidth letters, zero-width space, NUL, combining dot, BOM.
    response = alice_engine.signal(instrument=instrument)
    body = assert_problem(response, 422)
    assert "instrument" in body["errors"]
    assert not Signal.objects.exists()


def test_lower_case_instrument_is_the_one_documented_folding(alice_engine):
    assert alice_engine.signal(instrument=" eurusd ").json()["instrument"] == "EURUSD"


# Python's int() and Decimal() read the decimal digits of every script.
DIGITS = {"Arabic-Indic": "٠١٢٣٤٥٦٧٨٩", "Persian": "۰۱۲۳۴۵۶۷۸۹", "Devanagari": "०१२३४५६७८९",
          "Thai": "๐๑๒๓๔๕๖๗๘๙", "fullwidth": "０１２３４５６７８９", "mathematical bold": "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"}


@pytest.mark.parametrize("script", [*DIGITS, "one Arabic-Indic digit among ASCII ones"])
@pytest.mark.parametrize("kind, field, plain", NUMERIC_INPUTS)
def test_numbers_in_other_scripts_digits_are_refused(request, kind, field, plain, script):
    if script in DIGITS:
        value = plain.translate(str.maketrans("0123456789", DIGITS[script]))
    else:
        value = plain[:-1] + plain[-1].translate(str.maketrans("0123456789", DIGITS["Arabic-Indic"]))
    assert_number_refused(request, kind, field, value)


@pytest.mark.parametrize("reason", TEXTS)
def test_unicode_reasons_round_trip(alice, alice_engine, consent_version, reason):
    signal = alice_engine.signal().json()
    response = bearer(alice).post("/api/v1/approvals/", {"signal": signal["id"], "decision": "rejected",
                                                          "consent_version": consent_version, "reason": reason},
                                  format="json")
    assert response.status_code == 201
    assert bearer(alice).get(f"/api/v1/approvals/{response.json()['id']}/").json()["reason"] == reason


def test_nul_in_a_reason_is_refused_not_stored(alice, alice_engine, consent_version):
    """No database text can hold NUL (PostgreSQL refuses it with an error):
    a text field with one is a 422, as for every DRF CharField."""
    signal = alice_engine.signal().json()
    response = bearer(alice).post("/api/v1/approvals/", {"signal": signal["id"], "decision": "approved",
                                                          "consent_version": consent_version, "reason": "a\u0000b"},
                                  format="json")
    body = assert_problem(response, 422)
    assert "reason" in body["errors"]


@pytest.mark.parametrize("request_id", ["αβγ", "id\r\nSet-Cookie: x=1", "a" * 129, "../../etc"])
def test_unsafe_request_ids_are_replaced(alice, request_id):
    response = bearer(alice).get("/api/v1/me/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] != request_id


def test_unicode_user_agent_is_kept_within_512_characters(alice, alice_engine, consent_version):
    signal = alice_engine.signal().json()
    agent = "Ünïcødé-Agent/1.0 " + "🚀" * 600
    response = bearer(alice).post("/api/v1/approvals/", {"signal": signal["id"], "decision": "approved",
                                                          "consent_version": consent_version}, format="json",
                                  HTTP_USER_AGENT=agent.encode("utf-8").decode("latin-1"))
    assert response.status_code == 201
    assert len(response.json()["user_agent"]) <= 512
    assert verify_chain().ok
