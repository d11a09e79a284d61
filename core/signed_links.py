"""Signed links: URLs that carry their own authorization, for what cannot
send a token (an `<img src>`, a chat embed).

A link is a path plus readable query parameters, `expires` (unix seconds)
and `signature`: an HMAC-SHA256, keyed from SECRET_KEY with this module's
salt, over the path and every other parameter in canonical order. So the
signature covers exactly what the link shows (the object in the path, the
owner of an account chart, the instrument, size, bars) and until when;
changing, adding or repeating any parameter gives 403, and a genuine link
past `expires` gives 410. Who may see what a link shows is checked when the
link is made, for the user who makes it.
"""

import time
from urllib.parse import urlencode

from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework.exceptions import PermissionDenied

from core.problems import Gone

# Every link handed out so far was signed with this salt; another would end them all.
SALT = "charting.links.v1"
MAX_TTL_SECONDS = 7 * 86400


def _signature(path: str, params: dict[str, str]) -> str:
    canonical = f"{path}?{urlencode(sorted(params.items()))}"
    return salted_hmac(SALT, canonical, algorithm="sha256").hexdigest()


def signed_path(path: str, params: dict, *, expires: int) -> str:
    """`path` with `params`, `expires` and their signature as its query."""
    params = {name: str(value) for name, value in params.items()} | {"expires": str(expires)}
    return f"{path}?{urlencode(sorted(params.items()))}&signature={_signature(path, params)}"


def verify(request) -> tuple[dict[str, str], int]:
    """The link's parameters (without `expires` and `signature`) and the
    seconds it still works, or 403 (not a link we made) / 410 (one that has
    expired)."""
    query = request.GET
    if any(len(query.getlist(name)) != 1 for name in query):
        raise PermissionDenied("The link's parameters were altered.")
    params = {name: query[name] for name in query}
    given = params.pop("signature", "")
    if not constant_time_compare(given, _signature(request.path, params)):
        raise PermissionDenied("The link's signature does not match its parameters.")
    expires = int(params.pop("expires"))  # present and numeric: we signed it
    remaining = expires - int(time.time())
    if remaining < 0:
        raise Gone("The link has expired; ask for a new one.", slug="link-expired")
    return params, remaining
