"""Checks that a machine client's secret shown in the operators' console
(machines/admin.py) is shown once, in one page's body, and kept nowhere:
not in a cookie (Django's message storage among them), the session, a
message or a log record."""

import zlib

from django.contrib.messages import get_messages
from django.core import signing


def as_a_browser(client, response):
    """The response and the pages its redirects lead to."""
    responses = [response]
    while responses[-1].status_code in (301, 302, 303):
        responses.append(client.get(responses[-1]["Location"]))
    return responses


def readable(cookie):
    """A cookie as anyone holding it reads it: Django signs cookies (its
    message storage among them) but does not encrypt them: base64 before the
    signature, zlib-compressed when it starts with a dot."""
    payload = cookie.value.split(":")[0]
    try:
        data = signing.b64_decode(payload.lstrip(".").encode())
        if payload.startswith("."):
            data = zlib.decompress(data)
    except (ValueError, zlib.error):
        return cookie.value
    return cookie.value + data.decode(errors="replace")


def assert_shown_once_and_kept_nowhere(client, responses, secret, caplog, *, next_page):
    """`responses`: what the browser got for the request that made the
    secret; `next_page`: where the operator goes next."""
    assert "".join(r.content.decode() for r in responses).count(secret) == 1
    for response in responses:
        assert not [c.key for c in response.cookies.values() if secret in readable(c)]
        assert not [m for m in get_messages(response.wsgi_request) if secret in str(m)]
    assert secret not in repr(dict(client.session.items()))
    assert not [r for r in caplog.records if secret in r.getMessage() or secret in repr(vars(r))]
    # Nor is it carried to the next page.
    assert secret not in client.get(next_page).content.decode()
