"""Signed chart URLs for `<img src>`, which cannot send a token.

A link is a path under /charts/ plus readable query parameters, `expires`
(unix seconds) and `signature`: an HMAC-SHA256, keyed from SECRET_KEY with
this module's salt, over the path and every other parameter in canonical
order. So the signature covers exactly what is drawn (the signal in the path,
the owner of equity charts, the instrument, size, bars) and until when;
changing, adding or repeating any parameter gives 403, and a genuine link
past `expires` gives 410. Who may see the data was checked when the link was
made, for the user who made it.
"""

import time
from datetime import datetime, timezone
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework.exceptions import PermissionDenied

from charting.charts import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from core.problems import Gone

SALT = "charting.links.v1"
MAX_TTL_SECONDS = 7 * 86400
# A signal's chart_url expires on a whole hour, so that the URL (and what
# browsers and chat proxies cache under it) stays the same for an hour.
SIGNAL_LINK_TTL_SECONDS = MAX_TTL_SECONDS
SIGNAL_LINK_GRANULARITY = 3600


def _signature(path: str, params: dict[str, str]) -> str:
    canonical = f"{path}?{urlencode(sorted(params.items()))}"
    return salted_hmac(SALT, canonical, algorithm="sha256").hexdigest()


def signed_path(path: str, params: dict, *, expires: int) -> str:
    params = {name: str(value) for name, value in params.items()} | {"expires": str(expires)}
    return f"{path}?{urlencode(sorted(params.items()))}&signature={_signature(path, params)}"


def link_for(*, chart: str, params: dict, ttl: int) -> tuple[str, datetime]:
    """The path and expiry of a link to one of the public chart views."""
    expires = int(time.time()) + ttl
    path = reverse(f"public-chart-{chart}")
    return signed_path(path, params, expires=expires), datetime.fromtimestamp(expires, tz=timezone.utc)


def signal_link(signal, *, params: dict) -> str:
    expires = (int(time.time()) + SIGNAL_LINK_TTL_SECONDS) // SIGNAL_LINK_GRANULARITY * SIGNAL_LINK_GRANULARITY
    return signed_path(reverse("public-chart-signal", kwargs={"pk": signal.pk}), params, expires=expires)


def verify(request) -> tuple[dict[str, str], int]:
    """The link's parameters (without `expires` and `signature`) and its
    expiry, or 403 (not a link we made) / 410 (one that has expired)."""
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


def signal_chart_url(signal, *, request=None) -> str:
    """The signal resource's `chart_url`: its chart at the default size,
    absolute when there is a request to take the host from."""
    path = signal_link(signal, params={"width": DEFAULT_WIDTH, "height": DEFAULT_HEIGHT, "bars": DEFAULT_BARS})
    return request.build_absolute_uri(path) if request is not None else path
