"""The outbound guard on delivery: the host is resolved once per attempt, every address is
checked, and the connection goes to the address that was checked. A DNS server that answers
an allowed address to the check and another one afterwards (rebinding) gets nowhere."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from adapters.http.addresses import IPAddress
from adapters.http.outbound import GuardedTransport, OutboundPolicy
from adapters.webhooks_out.sender import HttpWebhookSender
from adapters.webhooks_out.signer import StandardWebhooksSigner
from tests.notifications.receiver import running_webhook_receiver


class RebindingResolver:
    """Answers 127.0.0.1 (allowed) the first time, 127.0.0.2 (not allowed) afterwards."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append(host)
        return [ipaddress.ip_address("127.0.0.1" if len(self.calls) == 1 else "127.0.0.2")]


async def test_a_rebinding_answer_never_redirects_a_delivery() -> None:
    resolver = RebindingResolver()
    policy = OutboundPolicy(["127.0.0.1/32"], resolver=resolver)
    signer = StandardWebhooksSigner()
    secret = signer.new_secret()
    async with running_webhook_receiver() as receiver, \
            httpx.AsyncClient(transport=GuardedTransport(policy)) as client:
        port = urlsplit(receiver.base_url).port
        url = f"http://hooks.rebind.test:{port}/hooks/pinned"
        sender = HttpWebhookSender(client)
        body = b'{"type":"webhook.test"}'
        now = datetime.now(UTC)
        headers = {"webhook-id": "evt_1", "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signer.signature([secret], "evt_1", now, body)}

        first = await sender.send(url, body, headers, 5.0)
        # One lookup, and the connection went to its answer: had the pool looked the name up
        # again it would have got 127.0.0.2, where nothing listens.
        assert first.status_code == 200, first
        assert resolver.calls == ["hooks.rebind.test"]
        [hit] = receiver.hook("pinned").hits
        assert hit.headers["host"] == f"hooks.rebind.test:{port}"
        assert hit.verifies_with(secret)

        # The next attempt is checked again: the new answer is refused, nothing is sent.
        second = await sender.send(url, body, headers, 5.0)
        assert second.status_code is None
        assert second.error is not None and "refused by the outbound policy" in second.error
        assert len(receiver.hook("pinned").hits) == 1
