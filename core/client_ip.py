"""The client's address, the one rule for audit entries, approvals and throttles.

The socket peer is the client unless the peer is one of our own proxies
(`TRUSTED_PROXIES`); only then is `X-Forwarded-For` believed, read from the
right, skipping our proxies, so a client cannot spoof it by sending the header.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]):
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def address_in(address: str | None, cidrs) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except (TypeError, ValueError):
        return False
    return any(ip in net for net in _networks(tuple(cidrs)))


def canonical_ip(address: str | None) -> str | None:
    """The address as PostgreSQL's inet (and Django on SQLite) gives it back,
    or None when it is none: without an IPv6 zone (`fe80::1%eth0`: inet
    refuses one, so a scoped peer would make the approval or audit entry that
    stores it fail), and an IPv4-mapped address with its IPv4 part dotted, as
    both write it (Python's own str is hexadecimal before 3.13)."""
    try:
        ip = ipaddress.ip_address(address)
    except (TypeError, ValueError):
        return None
    if ip.version == 6:
        if ip.scope_id:
            ip = ipaddress.IPv6Address(int(ip))
        if ip.ipv4_mapped:
            return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def client_ip(request) -> str | None:
    # Only ever an address or None: callers store it in inet columns, and a
    # server on a unix socket reports no address (or a path) as the peer.
    peer = canonical_ip(request.META.get("REMOTE_ADDR"))
    trusted = settings.TRUSTED_PROXIES
    if not trusted or not address_in(peer, trusted):
        return peer
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not address_in(hop, trusted):
            return canonical_ip(hop) or peer  # garbage in the header: fall back to what we know
    return peer


def budget_address(address: str | None) -> str | None:
    """What a per-address budget (rate limits, failed logins) counts a
    client under: an IPv4 address as it is, an IPv6 one as its /64, which a
    client holds whole: it may send from any of its 2^64 addresses."""
    try:
        ip = ipaddress.ip_address(address)
    except (TypeError, ValueError):
        return address
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return canonical_ip(address)
