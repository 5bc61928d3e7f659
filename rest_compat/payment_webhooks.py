"""Mobile-money callbacks: /api/payments/webhooks/{mpesa,mtn-momo,orange-money}.

The provider is given ``{CARI_PUBLIC_BASE_URL}/api/payments/webhooks/mpesa?token=<token>``
(payouts add ``&kind=result`` or ``&kind=timeout``). The token identifies and authenticates
one payment; an unknown token gets 401 and nothing is stored. A genuine callback is stored in
the webhook inbox and answered at once; the payment changes only after the authenticated
status query agrees (see resolvers/payments/callbacks.py).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from rest_compat.body import read_body
from rest_compat.envelope import ok
from rest_compat.request_context import BadRequest, services
from rest_compat.spec import Endpoint, Operation, QueryParam, api_route

MAX_CALLBACK_BYTES = 256 * 1024


class CallbackAck(BaseModel):
    accepted: bool = True
    duplicate: bool = Field(description="true when this callback was received before")


async def _body(request: Request) -> bytes:
    return await read_body(request, MAX_CALLBACK_BYTES)


async def _accept(request: Request, provider: str) -> Response:
    token = request.query_params.get("token")
    kind = request.query_params.get("kind")
    if kind not in (None, "result", "timeout"):
        raise BadRequest("kind must be result or timeout")
    found = services(request)
    callbacks = found.payments.callbacks
    # The token first: a callback that is not ours is refused before its body is received.
    payment = await callbacks.authenticate(provider, token)
    raw = await _body(request)
    result = await callbacks.accept_for(found.webhooks.intake, payment, raw, kind)
    return ok(CallbackAck(duplicate=result.duplicate))


async def mpesa_callback(request: Request) -> Response:
    return await _accept(request, "mpesa")


async def momo_callback(request: Request) -> Response:
    return await _accept(request, "mtn_momo")


async def orange_callback(request: Request) -> Response:
    return await _accept(request, "orange_money")


_PARAMS = (
    QueryParam("token", "The payment's callback token, as put in the URL given to the provider",
               {"type": "string", "minLength": 1, "maxLength": 200}, required=True),
    QueryParam("kind", "Payouts: result or timeout", {"type": "string",
                                                     "enum": ["result", "timeout"]}),
)
_BODY = {"application/json": {"schema": {"type": "object"}}}
_ERRORS = (400, 401, 413)


def _route(method: str, path: str, endpoint: Endpoint, summary: str) -> Operation:
    return api_route(method, path, endpoint, summary=summary, tag="payments",
                     response_model=CallbackAck, params=_PARAMS, request_body_schema=_BODY,
                     error_statuses=_ERRORS)


operations: list[Operation] = [
    _route("POST", "/api/payments/webhooks/mpesa", mpesa_callback,
           "M-Pesa Daraja callback (STK push, B2C result or queue timeout)"),
    _route("POST", "/api/payments/webhooks/mtn-momo", momo_callback,
           "MTN MoMo callback (request-to-pay or transfer)"),
    _route("PUT", "/api/payments/webhooks/mtn-momo", momo_callback,
           "MTN MoMo callback sent with PUT"),
    _route("POST", "/api/payments/webhooks/orange-money", orange_callback,
           "Orange Money web payment notification (notif_token must match)"),
]
