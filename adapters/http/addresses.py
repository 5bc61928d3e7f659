"""Which IP addresses an outbound request may reach unless the operator allow-lists them.

An IPv6 address can carry an IPv4 address inside it, and a translator or tunnel on the way
delivers the packet to that IPv4 address: NAT64 (64:ff9b::/96), 6to4 (2002::/16), Teredo
(2001::/32, the client address XOR-ed with ones) and the IPv4-mapped and IPv4-compatible
forms. ``[64:ff9b::a9fe:a9fe]`` is the cloud metadata address 169.254.169.254, although
Python's ``is_global`` calls it public; so the embedded IPv4 address is judged by the same
rules as a plain one.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address

NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: IPAddress) -> list[IPv4Address]:
    """The IPv4 addresses a packet to ``address`` may end up at, besides ``address`` itself."""
    if isinstance(address, IPv4Address):
        return []
    if address in NAT64_WELL_KNOWN or (address in IPV4_COMPATIBLE and int(address) > 1):
        return [IPv4Address(int(address) & 0xFFFFFFFF)]  # not :: or ::1, which are themselves
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        server, client = address.teredo  # ``teredo`` undoes the XOR of the client address
        return [client, server]
    return []


def _plain_refusal(address: IPAddress) -> str | None:
    """Why ``address`` itself (ignoring anything embedded) is not a public unicast address."""
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "a site-local address"
    # All of ::/8 is "reserved", including the well-known NAT64 prefix, which is judged by
    # the IPv4 address it carries instead.
    if address.is_reserved and address not in NAT64_WELL_KNOWN:
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a request may not reach ``address`` by default, or None when it may."""
    if isinstance(address, IPv6Address):
        for inner in embedded_ipv4(address):
            reason = _plain_refusal(inner)
            if reason is not None:
                return f"an IPv6 form of {inner}, {reason}"
        # Forms with no use for a server on the internet: a mapped or compatible address is
        # an IPv4 address in disguise, the local-use NAT64 prefix is the operator's own
        # translator, and Teredo is a client tunnel. The allow-list can still name them.
        if address in IPV4_MAPPED or (address in IPV4_COMPATIBLE and int(address) > 1):
            return "an IPv4-mapped or IPv4-compatible IPv6 address"
        if address in NAT64_LOCAL_USE:
            return "a local-use NAT64 address"
        if address in TEREDO:
            return "a Teredo tunnel address"
    return _plain_refusal(address)
