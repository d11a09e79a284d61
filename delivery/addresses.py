"""Where webhooks may go. A URL names a host the platform resolves and
connects to on a user's behalf, so an endpoint could otherwise reach what
only the platform can (its database, a cloud's metadata service at
169.254.169.254, an admin port on loopback): server-side request forgery.
Every address a host resolves to must be public unicast, or inside one of
the operator's WEBHOOK_ALLOWED_NETWORKS. The check runs when an endpoint is
registered (a 422) and again before every attempt, and the attempt connects
to the very address that passed, so a DNS answer that changes in between
(rebinding) gains nothing."""

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

SCHEMES = {"http": 80, "https": 443}


class RefusedTarget(Exception):
    """Why a URL may not be a webhook target, in words fit for its owner."""


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]):
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def allowed_networks():
    return _networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS))


# IPv6 prefixes whose last 32 bits are an IPv4 address a host may reach
# through them (IPv4-compatible, SIIT's IPv4-translated, NAT64's well-known
# prefix): judged as that IPv4 address. Python counts them global whatever
# they carry, so ::127.0.0.1 or 64:ff9b::7f00:1 would pass for public.
IPV4_CARRYING = tuple(ipaddress.ip_network(prefix) for prefix in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96"))
# Never public: NAT64 for local use, and the deprecated site-local range.
IPV6_LOCAL = tuple(ipaddress.ip_network(prefix) for prefix in ("64:ff9b:1::/48", "fec0::/10"))


def _as_reached(ip):
    """The address a connection to `ip` reaches, as far as it says: the IPv4
    address inside an IPv4-mapped, -compatible, -translated, NAT64 or 6to4
    one; `ip` itself otherwise."""
    if ip.version == 4:
        return ip
    if ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002:7f00:1:: tunnels to 127.0.0.1
        return ip.sixtofour
    if any(ip in network for network in IPV4_CARRYING):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is no part of it
    ip = _as_reached(ip)
    if any(ip in network for network in allowed_networks()):
        return True
    # is_global is False for loopback, private, link-local, shared (100.64/10),
    # reserved, documentation and unspecified ranges; multicast is refused too.
    if ip.version == 6 and (ip.teredo is not None or any(ip in network for network in IPV6_LOCAL)):
        return False
    return ip.is_global and not ip.is_multicast


def origin_of(url: str) -> str:
    """What the audit log and the console show of a URL: scheme, host and
    port (a path or query may carry the receiver's own token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def target_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL, or RefusedTarget. The host is
    in its ASCII form: an internationalised name (пример.рф) as IDNA has it
    (xn--e1afmkfd.xn--p1ai), the form DNS, TLS and the Host header take."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise RefusedTarget("Must be an http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("Must not carry a user name or password: put a token in the path or query instead.")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise RefusedTarget("Has an invalid port.") from None
    if not parts.hostname:
        raise RefusedTarget("Must name a host.")
    if parts.hostname.isascii():
        return parts.scheme, parts.hostname, port
    try:
        return parts.scheme, parts.hostname.encode("idna").decode("ascii"), port
    except UnicodeError:
        raise RefusedTarget("Has an invalid host name.") from None


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all of them allowed, or RefusedTarget."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedTarget(f"The host {host!r} does not resolve.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise RefusedTarget(f"The host {host!r} does not resolve.")
    if not all(address_allowed(address) for address in addresses):
        raise RefusedTarget(f"The host {host!r} resolves to a loopback, private, link-local, multicast or "
                            "reserved address, which webhooks may not reach.")
    return addresses


def checked_url(url: str) -> str:
    """`url` as it is stored, its host in ASCII form, if it may be a webhook
    target now; else RefusedTarget."""
    _, host, port = target_of(url)
    resolve(host, port)
    parts = urlsplit(url)
    if host == parts.hostname:  # already ASCII
        return url
    # Neither a user name (refused) nor brackets (an IPv6 address is ASCII): the port, if any, follows a colon.
    port_given = parts.netloc[parts.netloc.rindex(":"):] if ":" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=host + port_given))
