"""Sessions (refresh tokens) in the operators' console: shown, never edited,
never removed, never revealed."""

import pytest
from django.urls import reverse
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


def test_sessions_are_listed_read_only_without_the_tokens(console, alice):
    live, revoked = RefreshToken.for_user(alice), RefreshToken.for_user(alice)
    revoked.blacklist()
    outstanding = OutstandingToken.objects.get(jti=live["jti"])
    blacklisted = BlacklistedToken.objects.get(token__jti=revoked["jti"])
    pages = {
        "admin:token_blacklist_outstandingtoken_changelist": [],
        "admin:token_blacklist_outstandingtoken_change": [outstanding.pk],
        "admin:token_blacklist_blacklistedtoken_changelist": [],
        "admin:token_blacklist_blacklistedtoken_change": [blacklisted.pk],
    }
    for name, args in pages.items():
        response = console.get(reverse(name, args=args))
        page = response.content.decode()
        assert response.status_code == 200 and "alice" in page
        assert str(live) not in page and str(revoked) not in page  # a refresh token is a credential
        assert 'name="_save"' not in page and "delete_selected" not in page
    assert live["jti"] in console.get(reverse("admin:token_blacklist_outstandingtoken_changelist")).content.decode()

    assert console.get(reverse("admin:token_blacklist_blacklistedtoken_add")).status_code == 403
    assert console.post(reverse("admin:token_blacklist_blacklistedtoken_add"),
                        {"token": outstanding.pk}).status_code == 403
    # Removing a blacklist entry would revive a revoked refresh token.
    assert console.post(reverse("admin:token_blacklist_blacklistedtoken_delete", args=[blacklisted.pk]),
                        {"post": "yes"}).status_code == 403
    assert console.post(reverse("admin:token_blacklist_outstandingtoken_delete", args=[outstanding.pk]),
                        {"post": "yes"}).status_code == 403
    console.post(reverse("admin:token_blacklist_blacklistedtoken_changelist"),
                 {"action": "delete_selected", "_selected_action": [blacklisted.pk], "post": "yes"})
    assert BlacklistedToken.objects.filter(pk=blacklisted.pk).exists()
    assert OutstandingToken.objects.count() == 2 and BlacklistedToken.objects.count() == 1


@pytest.mark.parametrize("page, lookup", [
    ("admin:token_blacklist_outstandingtoken_changelist", "token__startswith"),
    ("admin:token_blacklist_outstandingtoken_changelist", "token__gt"),
    ("admin:token_blacklist_outstandingtoken_changelist", "token"),
    ("admin:token_blacklist_blacklistedtoken_changelist", "token__token__startswith"),
])
def test_sessions_cannot_be_filtered_by_their_token(console, alice, page, lookup):
    # A filter on the token's text would tell whether a guess of its start is
    # right: one character at a time, a live refresh token read out.
    token = RefreshToken.for_user(alice)
    token.blacklist()
    assert console.get(reverse(page), {lookup: str(token)[:20]}).status_code == 400
    assert console.get(reverse(page), {"q": "alice"}).status_code == 200  # searching by user stays
