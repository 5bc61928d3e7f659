"""The outbound guard judges IPv4 addresses hidden in IPv6 forms like plain ones."""

from __future__ import annotations

import ipaddress

import pytest

from adapters.http.addresses import IPAddress, embedded_ipv4
from adapters.http.outbound import OutboundPolicy, OutboundRefused

METADATA = ipaddress.IPv4Address("169.254.169.254")
TEREDO_SERVER = "4136:e378"  # 65.54.227.120
# Teredo stores the client address XOR-ed with ones: 169.254.169.254 is a9fe:a9fe -> 5601:5601.
TEREDO_TO_METADATA = f"2001:0:{TEREDO_SERVER}:8000:63bf:5601:5601"
TEREDO_TO_PUBLIC = f"2001:0:{TEREDO_SERVER}:8000:63bf:f7f7:f7f7"  # client 8.8.8.8


@pytest.mark.parametrize(("url", "reason"), [
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250:1900/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254, a link-local"),
    ("http://[64:ff9b::7f00:1]/", "127.0.0.1, a loopback"),
    ("http://[64:ff9b:1::a9fe:a9fe]/", "local-use NAT64"),
    ("http://[64:ff9b:1::808:808]/", "local-use NAT64"),
    ("http://[2002:a9fe:a9fe::]/", "169.254.169.254, a link-local"),
    ("http://[2002:a00:1::1]/", "10.0.0.1, a non-public"),
    (f"http://[{TEREDO_TO_METADATA}]/", "169.254.169.254, a link-local"),
    (f"http://[{TEREDO_TO_PUBLIC}]/", "Teredo"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254, a link-local"),
    ("http://[::ffff:8.8.8.8]/", "IPv4-mapped"),
    ("http://[::a9fe:a9fe]/", "169.254.169.254, a link-local"),
    ("http://[::808:808]/", "IPv4-compatible"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[::1]/", "loopback"),
    ("http://[::]/", "unspecified"),
])
async def test_forbidden_address_forms_are_refused(url: str, reason: str) -> None:
    with pytest.raises(OutboundRefused, match="resolves to") as refused:
        await OutboundPolicy([]).check(url)
    assert reason in str(refused.value)


@pytest.mark.parametrize("url", [
    "http://8.8.8.8/", "http://[2606:4700:4700::1111]/",
    "http://[64:ff9b::808:808]/",  # NAT64 of a public address: how IPv6-only hosts reach it
    "http://[2002:808:808::1]/",   # 6to4 of a public address
])
async def test_public_destinations_in_any_form_are_allowed(url: str) -> None:
    assert await OutboundPolicy([]).check(url)


async def test_the_allow_list_matches_the_embedded_address_too() -> None:
    policy = OutboundPolicy(["10.0.0.0/8", "169.254.169.254/32"])
    assert await policy.check("http://[::ffff:10.1.2.3]/")
    assert await policy.check("http://[64:ff9b::a9fe:a9fe]/")
    with pytest.raises(OutboundRefused):
        await policy.check("http://[64:ff9b::c0a8:101]/")  # 192.168.1.1: not listed


async def test_a_name_resolving_to_a_multicast_address_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("224.0.0.1")]

    with pytest.raises(OutboundRefused, match="multicast"):
        await OutboundPolicy([], resolver).check("https://partner.example/")


def test_the_teredo_client_address_is_de_obfuscated() -> None:
    assert METADATA in embedded_ipv4(ipaddress.IPv6Address(TEREDO_TO_METADATA))
