"""/api/webhooks/whatsapp: Meta's verification handshake (GET) and notifications (POST).

A POST is verified on its raw body (X-Hub-Signature-256, the App Secret) before anything is
parsed; its items (inbound messages, statuses) are stored in the durable inbox in ONE
transaction, deduplicated on the message id (inbound) and on (id, status) (statuses), and
answered 200 at once; the inbox worker processes them. Not configured: 404, as the other
providers' routes.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from resolvers.messaging.ports import WhatsAppWebhookCheck
from resolvers.webhooks.errors import MalformedDelivery, ProviderNotConfigured, SignatureRejected
from rest_compat.body import read_body
from rest_compat.envelope import ok
from rest_compat.request_context import services
from rest_compat.spec import Operation, QueryParam, api_route
from rest_compat.webhooks import refused_webhook

PATH = "/api/webhooks/whatsapp"


class WhatsAppAck(BaseModel):
    received: int = Field(description="Items in the notification")
    stored: int = Field(description="Items new to the inbox (the rest were duplicates)")


def _check(request: Request) -> WhatsAppWebhookCheck:
    webhook = services(request).messaging.webhook
    if webhook is None:
        raise ProviderNotConfigured("WhatsApp webhooks are not configured on this gateway "
                                    "(CARI_WHATSAPP_APP_SECRET and the rest)")
    return webhook


async def handshake(request: Request) -> Response:
    challenge = _check(request).handshake(request.query_params)
    if challenge is None:
        return PlainTextResponse("verification refused", status_code=403)
    return PlainTextResponse(challenge)


async def notification(request: Request) -> Response:
    webhook = _check(request)
    limit: int = request.app.state.settings.webhook_max_body_bytes
    raw = await read_body(request, limit)
    try:
        events = webhook.verify(raw, request.headers)
    except (SignatureRejected, MalformedDelivery) as exc:
        await refused_webhook(services(request), "whatsapp", raw, exc)
        raise
    results = await services(request).webhooks.intake.receive_many(events)
    return ok(WhatsAppAck(received=len(events),
                          stored=sum(1 for r in results if not r.duplicate)))


operations: list[Operation] = [
    api_route("GET", PATH, handshake, summary="WhatsApp webhook verification: the "
              "hub.challenge as text/plain when hub.verify_token matches, else 403; 404 when "
              "WhatsApp is not configured", tag="webhooks", envelope=False,
              error_statuses=(403, 404),
              raw_responses={"200": {"description": "The challenge", "content": {
                  "text/plain": {"schema": {"type": "string"}}}}},
              params=(QueryParam("hub.mode", "subscribe"),
                      QueryParam("hub.verify_token", "CARI_WHATSAPP_VERIFY_TOKEN"),
                      QueryParam("hub.challenge", "Echoed back"))),
    api_route("POST", PATH, notification, summary="WhatsApp Cloud API notification (inbound "
              "messages, statuses); X-Hub-Signature-256 = sha256=<hex HMAC-SHA256(app "
              "secret, raw body)>; 404 when not configured", tag="webhooks",
              response_model=WhatsAppAck, error_statuses=(400, 401, 404, 409, 413),
              request_body_schema={"application/json": {"schema": {"type": "object"}}},
              request_headers=(QueryParam("X-Hub-Signature-256", "sha256=<hex HMAC-SHA256 "
                                          "of the raw body keyed with the App Secret>",
                                          location="header"),)),
]
