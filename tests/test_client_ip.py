"""The client's address is the socket peer, or the first
untrusted hop of X-Forwarded-For only when the peer is a trusted proxy."""

import pytest
from django.test import RequestFactory

from core.client_ip import budget_address, client_ip


def request_from(peer, forwarded=None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_from("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("203.0.113.7", "1.2.3.4, 10.0.0.5")) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_forwarded_client_is_used(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("10.0.0.2", "198.51.100.9")) == "198.51.100.9"


def test_the_chain_is_read_right_to_left_skipping_only_trusted_hops(settings):
    # The client prepended a fake address; our two proxies appended the real
    # client and the first proxy: the first untrusted hop from the right wins.
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.168.0.0/16"]
    request = request_from("10.0.0.2", "6.6.6.6, 198.51.100.9, 192.168.1.1")
    assert client_ip(request) == "198.51.100.9"


def test_garbage_in_the_header_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("10.0.0.2", "1.2.3.4, not-an-address")) == "10.0.0.2"


def test_only_trusted_hops_means_the_peer(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("10.0.0.2", "10.0.0.3, 10.0.0.4")) == "10.0.0.2"
    assert client_ip(request_from("10.0.0.2")) == "10.0.0.2"


@pytest.mark.parametrize("forwarded,expected", [("2001:db8::1", "2001:db8::1"), ("2001:DB8:0::2", "2001:db8::2"),
                                               ("fe80::1%eth0", "fe80::1"), ("::ffff:192.0.2.1", "::ffff:192.0.2.1")])
def test_ipv6_hops_are_normalised(settings, forwarded, expected):
    settings.TRUSTED_PROXIES = ["::1/128"]
    assert client_ip(request_from("::1", forwarded)) == expected


@pytest.mark.parametrize("peer", ["", "unix:/run/gunicorn.sock", None])
def test_a_peer_that_is_no_address_gives_none(settings, peer):
    settings.TRUSTED_PROXIES = []
    request = RequestFactory().get("/")
    request.META["REMOTE_ADDR"] = peer
    assert client_ip(request) is None



@pytest.mark.parametrize(("address", "counted_as"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:203.0.113.7", "::ffff:203.0.113.7"),  # an IPv4 client behind a dual-stack socket
    (None, None),
])
def test_a_budget_counts_an_ipv6_client_by_its_64(address, counted_as):
    assert budget_address(address) == counted_as
