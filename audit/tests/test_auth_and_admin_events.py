"""The events wired now: auth.login (success and failure), auth.logout and
admin.change, each with actor, address, request id and redacted meta."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEntry
from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()
REQUEST = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "trading-app/3.0", "HTTP_X_REQUEST_ID": "req-login-1"}


def login(username, password, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json",
                            **{**REQUEST, **extra})


def test_login_success_is_recorded_with_actor_address_and_request_id(trader):
    assert login("trader", PASSWORD).status_code == 200
    entry = AuditEntry.objects.get(action="auth.login")
    assert (entry.status, entry.actor_type, entry.actor) == ("success", "user", "trader")
    assert (entry.target_type, entry.target_id) == ("user", str(trader.pk))
    assert (entry.ip, entry.user_agent, entry.request_id) == ("203.0.113.7", "trading-app/3.0", "req-login-1")
    assert entry.meta == {"via": "jwt"}


def test_login_failure_is_recorded_without_the_password(trader):
    assert login("trader", "wrong-password-123").status_code == 401
    entry = AuditEntry.objects.get(action="auth.login")
    assert (entry.status, entry.actor, entry.ip, entry.request_id) == ("failure", "trader", "203.0.113.7",
                                                                       "req-login-1")
    assert entry.target_id == ""
    assert "wrong-password-123" not in json.dumps(entry.meta)


def test_failure_for_an_unknown_username_is_recorded_too(db):
    assert login("mallory", "guess").status_code == 401
    assert AuditEntry.objects.get(action="auth.login").actor == "mallory"


def test_address_behind_a_trusted_proxy_is_the_forwarded_client(trader, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    login("trader", PASSWORD, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.23, 10.9.9.9")
    assert AuditEntry.objects.get(action="auth.login").ip == "198.51.100.23"


def test_forwarded_header_from_an_untrusted_peer_is_ignored(trader):
    login("trader", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.23")
    assert AuditEntry.objects.get(action="auth.login").ip == "203.0.113.7"


def test_logout_is_recorded(trader):
    refresh = login("trader", PASSWORD).json()["refresh"]
    response = APIClient().post("/api/v1/auth/logout/", {"refresh": refresh}, format="json",
                                **{**REQUEST, "HTTP_X_REQUEST_ID": "req-logout-1"})
    assert response.status_code == 204
    entry = AuditEntry.objects.get(action="auth.logout")
    assert (entry.status, entry.actor_type, entry.actor, entry.target_id) == ("success", "user", "trader",
                                                                              str(trader.pk))
    assert (entry.ip, entry.request_id) == ("203.0.113.7", "req-logout-1")
    assert refresh not in json.dumps(entry.meta)


# --- admin.change -----------------------------------------------------------------

@pytest.fixture
def console(superuser):
    client = Client(**REQUEST)
    client.force_login(superuser)
    return client


def admin_changes():
    return list(AuditEntry.objects.filter(action="admin.change").order_by("seq"))


def test_changing_a_user_in_the_admin_is_recorded(console, trader):
    response = console.post(f"/admin/accounts/user/{trader.pk}/change/", {
        "username": "trader", "email": "new-address@example.com", "first_name": "", "last_name": "",
        "is_active": "on", "_save": "Save",
        # date_joined has a callable default, so the form compares it against hidden initial values
        **{f"{prefix}date_joined_{i}": value for prefix in ("", "initial-")
           for i, value in enumerate(trader.date_joined.strftime("%Y-%m-%d %H:%M:%S").split())},
    }, HTTP_X_REQUEST_ID="req-admin-1")
    assert response.status_code == 302
    trader.refresh_from_db()
    assert trader.email == "new-address@example.com"
    [entry] = admin_changes()
    assert (entry.actor_type, entry.actor, entry.status) == ("user", "root", "success")
    assert (entry.target_type, entry.target_id) == ("user", str(trader.pk))
    assert (entry.ip, entry.user_agent, entry.request_id) == ("203.0.113.7", "trading-app/3.0", "req-admin-1")
    assert entry.meta == {"operation": "change", "content_type": "accounts.user", "object_repr": "trader",
                          "change_message": [{"changed": {"fields": ["Email address"]}}]}


def test_setting_a_password_in_the_admin_records_the_change_not_the_password(console, trader):
    response = console.post(f"/admin/accounts/user/{trader.pk}/password/", {
        "password1": "brand-new-Secret-42", "password2": "brand-new-Secret-42", "usable_password": "true",
    })
    assert response.status_code == 302
    [entry] = admin_changes()
    assert entry.meta["operation"] == "change"
    assert "brand-new-Secret-42" not in json.dumps(entry.meta)


def test_adding_and_deleting_in_the_admin_are_recorded(console, trader):
    response = console.post("/admin/accounts/user/add/", {
        "username": "newcomer", "password1": "brand-new-Secret-42", "password2": "brand-new-Secret-42",
        "usable_password": "true", "_save": "Save",
    })
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    response = console.post(f"/admin/accounts/user/{newcomer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert [(e.meta["operation"], e.target_id, e.meta["object_repr"]) for e in admin_changes()] == [
        ("add", str(newcomer.pk), "newcomer"), ("delete", str(newcomer.pk), "newcomer")]
    assert "brand-new-Secret-42" not in json.dumps([e.meta for e in admin_changes()])


def test_deleting_several_objects_at_once_records_each(console, make_user):
    doomed = [make_user("doomed1"), make_user("doomed2"), make_user("doomed3")]
    response = console.post("/admin/accounts/user/", {
        "action": "delete_selected", "_selected_action": [str(u.pk) for u in doomed], "post": "yes",
    })
    assert response.status_code == 302
    assert not User.objects.filter(username__startswith="doomed").exists()
    entries = admin_changes()
    assert sorted(e.target_id for e in entries) == sorted(str(u.pk) for u in doomed)
    assert {(e.meta["operation"], e.actor) for e in entries} == {("delete", "root")}


def test_session_login_to_the_admin_is_recorded(superuser):
    response = Client(**REQUEST).post("/admin/login/", {"username": "root", "password": PASSWORD,
                                                        "next": "/admin/"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="auth.login")
    assert (entry.status, entry.actor, entry.ip, entry.meta) == ("success", "root", "203.0.113.7",
                                                                 {"via": "session"})
