import pytest

from audit.redaction import redact


@pytest.mark.parametrize("key", [
    "password", "new_password1", "Passphrase", "pwd", "token", "refresh_token", "access", "refresh", "secret",
    "client_secret", "signature", "X-Signature", "Authorization", "HTTP_AUTHORIZATION", "api_key", "API-Key",
    "private_key", "cookie", "sessionid", "session_key", "credentials", "jwt", "bearer",
])
def test_credential_keys_are_dropped(key):
    assert redact({key: "value", "kept": 1}) == {"kept": 1}


def test_redaction_reaches_any_depth_through_dicts_and_lists():
    meta = {
        "reason": "bad-signature",
        "key_id": "pk_live_1",
        "request": {"headers": {"Authorization": "Bearer eyJ...", "Accept": "application/json"},
                    "body": {"credentials": {"user": "a"}, "items": [{"secret": "x", "n": 1}, ["deep", {"token": 2}]]}},
    }
    assert redact(meta) == {
        "reason": "bad-signature",
        "key_id": "pk_live_1",
        "request": {"headers": {"Accept": "application/json"}, "body": {"items": [{"n": 1}, ["deep", {}]]}},
    }


def test_values_and_harmless_keys_are_kept():
    meta = {"fields": ["password"], "access_level": "read", "refreshed_at": "2026-11-26T07:00:00Z", "n": None}
    assert redact(meta) == meta
