"""One failed-login limit for the API's token endpoint and the admin's login
page: per username and per address for strangers, per address and username
for a client the user has logged in from before."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEntry
from tests.concurrency import run_together
from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db

STRANGER, OFFICE, HOME = "198.51.100.66", "203.0.113.10", "192.0.2.20"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6


def api_login(username, password, address):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=address)


def admin_login(username, password, address):
    """The admin's login page as a browser posts it; the client is logged in
    if the password was right."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("admin:login"), {"username": username, "password": password,
                                                    "next": reverse("admin:index")})
    return client, response


def admin_logged_in(client, response):
    return response.status_code == 302 and client.get(reverse("admin:index")).status_code == 200


def admin_refusal(response):
    assert response.status_code == 200
    return " ".join(response.context["form"].non_field_errors())


def test_wrong_admin_passwords_lock_the_admin_and_the_api_for_strangers(operator):
    for _ in range(3):
        assert "correct username and password" in admin_refusal(admin_login("operator", "nope", STRANGER)[1])

    client, response = admin_login("operator", PASSWORD, STRANGER)
    assert "Too many failed logins" in admin_refusal(response)
    assert client.get(reverse("admin:index")).status_code == 302  # still sent to the login page

    refused = api_login("operator", PASSWORD, HOME)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_wrong_api_passwords_lock_the_admin_for_strangers(operator):
    for _ in range(3):
        assert api_login("operator", "nope", STRANGER).status_code == 401
    assert "Too many failed logins" in admin_refusal(admin_login("operator", PASSWORD, HOME)[1])


def test_a_client_known_from_a_previous_login_is_not_locked_out_by_strangers(operator):
    assert admin_logged_in(*admin_login("operator", PASSWORD, OFFICE))
    assert api_login("operator", PASSWORD, HOME).status_code == 200
    for _ in range(5):
        admin_login("operator", "guess", STRANGER)
    assert api_login("operator", PASSWORD, STRANGER).status_code == 429

    assert admin_logged_in(*admin_login("operator", PASSWORD, OFFICE))
    assert api_login("operator", PASSWORD, HOME).status_code == 200


def test_a_known_clients_own_failures_are_limited_too(alice):
    assert api_login("alice", PASSWORD, HOME).status_code == 200
    for _ in range(3):
        assert api_login("alice", "typo", HOME).status_code == 401
    assert api_login("alice", PASSWORD, HOME).status_code == 429
    # Its failures locked out that client only.
    assert api_login("alice", PASSWORD, OFFICE).status_code == 200


def test_the_address_limit_blocks_that_address_only(alice, make_user):
    assert api_login("alice", PASSWORD, OFFICE).status_code == 200  # alice is known at the office
    make_user("bob")
    for name in ("carol", "dave", "erin", "frank", "grace", "heidi"):  # a guesser behind the office NAT
        assert api_login(name, "guess", OFFICE).status_code == 401
    assert api_login("bob", PASSWORD, OFFICE).status_code == 429  # a stranger to bob at this address
    assert api_login("bob", PASSWORD, HOME).status_code == 200
    assert api_login("alice", PASSWORD, OFFICE).status_code == 200


def test_each_admin_failure_is_audited_once_and_refusals_by_the_limit_not_at_all(operator):
    for _ in range(4):
        admin_login("operator", "nope", STRANGER)
    failures = AuditEntry.objects.filter(action="auth.login", status="failure")
    assert [(entry.actor, entry.ip) for entry in failures] == [("operator", STRANGER)] * 3

    assert "Too many failed logins" in admin_refusal(admin_login("operator", PASSWORD, HOME)[1])
    assert AuditEntry.objects.filter(action="auth.login").count() == 3


def test_a_right_password_at_the_admin_is_audited_as_a_session_login(operator):
    assert admin_logged_in(*admin_login("operator", PASSWORD, OFFICE))
    entry = AuditEntry.objects.get(action="auth.login")
    assert (entry.status, entry.actor, entry.meta) == ("success", "operator", {"via": "session"})


def test_a_non_staff_users_right_password_at_the_admin_is_no_failure(alice):
    for _ in range(4):
        assert "correct username and password" in admin_refusal(admin_login("alice", PASSWORD, STRANGER)[1])
    assert api_login("alice", PASSWORD, STRANGER).status_code == 200


def test_a_request_without_a_password_is_no_attempt(alice):
    for _ in range(4):
        assert APIClient().post("/api/v1/auth/token/", {"username": "alice"}, format="json",
                                REMOTE_ADDR=STRANGER).status_code == 422
    assert api_login("alice", PASSWORD, STRANGER).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_get_no_more_tries_than_the_limit(alice, settings):
    # The address's limit out of the way: with 8 guesses against its 6, a
    # guess among the username's first 3 could be the address's 7th and be
    # refused too, fewer tries than the username's limit.
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 100
    statuses = run_together([lambda: api_login("alice", "guess", STRANGER).status_code] * 8)
    assert sorted(statuses) == [401] * 3 + [429] * 5


def test_failed_logins_from_one_ipv6_64_share_the_address_limit(make_user, settings):
    # The per-address limit is what stops one client spraying passwords over
    # many usernames (the per-username limit stops only one account being
    # guessed). An IPv6 client rotates through its /64 at will.
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 2
    for name in ("u1", "u2", "u3", "u4"):
        make_user(name)
    statuses = [APIClient().post("/api/v1/auth/token/", {"username": name, "password": "wrong"}, format="json",
                                 REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code
                for n, name in enumerate(("u1", "u2", "u3", "u4"), start=1)]
    assert statuses == [401, 401, 429, 429]
