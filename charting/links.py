"""The chart links that POST /api/v1/charts/links/ and the operators'
console make: signed links (core/signed_links.py) to the public chart views
(charting/public_urls.py), which verify them."""

import time
from datetime import datetime, timezone

from django.urls import reverse

from core.signed_links import signed_path


def link_for(*, chart: str, params: dict, ttl: int, kwargs: dict | None = None) -> tuple[str, datetime]:
    """The path and expiry of a link to one of the public chart views
    (`kwargs`: the path's own parameters, a signal's id)."""
    expires = int(time.time()) + ttl
    path = reverse(f"public-chart-{chart}", kwargs=kwargs)
    return signed_path(path, params, expires=expires), datetime.fromtimestamp(expires, tz=timezone.utc)
