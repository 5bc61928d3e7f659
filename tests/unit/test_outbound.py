import httpx
import pytest

from adapters.http.outbound import GuardedTransport, OutboundPolicy, OutboundRefused


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/", "http://10.1.2.3/", "http://192.168.0.1/",
    "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://100.64.0.1/", "http://metadata.google.internal/", "http://0.0.0.0/",
])
async def test_non_public_addresses_are_refused_by_default(url: str) -> None:
    with pytest.raises(OutboundRefused):
        await OutboundPolicy([]).check(url)


@pytest.mark.parametrize("url", ["ftp://example.org/", "/relative", "http:///nohost"])
async def test_only_absolute_http_urls(url: str) -> None:
    with pytest.raises(OutboundRefused, match="absolute http"):
        await OutboundPolicy([]).check(url)


async def test_public_address_allowed_for_configured_urls() -> None:
    await OutboundPolicy([]).check("https://8.8.8.8/")


async def test_allowlist_by_host_port_and_cidr() -> None:
    policy = OutboundPolicy(["localhost:8103", "10.0.0.0/8", "*.hie.example"])
    await policy.check("http://localhost:8103/fhir")
    with pytest.raises(OutboundRefused):
        await policy.check("http://localhost:9999/")  # other port
    await policy.check("http://10.20.30.40/")
    with pytest.raises(OutboundRefused):
        await policy.check("http://192.168.1.1/")


async def test_caller_supplied_urls_must_be_listed_even_if_public() -> None:
    policy = OutboundPolicy(["203.0.113.0/24"])
    with pytest.raises(OutboundRefused, match="allow-list"):
        await policy.check("https://8.8.8.8/", caller_supplied=True)
    await policy.check("https://203.0.113.9/", caller_supplied=True)


async def test_transport_checks_every_request_before_sending() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    transport = GuardedTransport(OutboundPolicy(["127.0.0.1"]), httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://127.0.0.1:1/ok")).status_code == 204
        with pytest.raises(OutboundRefused):
            await client.get("http://169.254.169.254/")
    assert [str(r.url) for r in sent] == ["http://127.0.0.1:1/ok"]
