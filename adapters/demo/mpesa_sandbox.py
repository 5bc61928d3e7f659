"""A local stand-in for Safaricom's Daraja sandbox (``cari-gateway mpesa-sandbox``), so the
quick start (``make run``) has an M-Pesa provider to talk to without an account.

Only what a collection needs, in Daraja's shapes (reference: providers.md §1):

- ``GET /oauth/v1/generate?grant_type=client_credentials`` with HTTP Basic consumer key and
  secret -> ``{"access_token", "expires_in": "3599"}`` (a string, as Daraja sends it);
- ``POST /mpesa/stkpush/v1/processrequest`` (bearer token; the Password checked against the
  shortcode, passkey and Timestamp) -> ``ResponseCode "0"``, ``CheckoutRequestID``,
  ``MerchantRequestID``; then, after ``callback_delay`` seconds, the STK callback is POSTed
  to the CallBackURL the gateway sent: ResultCode 0 with the CallbackMetadata items for most
  pushes, 1032 "Request cancelled by user" for every ``cancel_every``-th one;
- ``POST /mpesa/stkpushquery/v1/query`` -> ``500.001.1001`` "The transaction is being
  processed" until the customer has "answered", then the ResultCode (a string, as Daraja).

It keeps everything in memory and is not a security boundary: it listens on loopback by
default and is meant for a developer's machine only. Payouts (B2C) are not simulated.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger("cari.demo.mpesa_sandbox")

EAT = timezone(timedelta(hours=3), "EAT")
TOKEN_PATH = "/oauth/v1/generate"  # noqa: S105 (a path)
STK_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
MSISDN = re.compile(r"^254[17]\d{8}$")
SUCCESS_DESC = "The service request is processed successfully."
CANCELLED = 1032
CANCELLED_DESC = "Request cancelled by user"
CALLBACK_ATTEMPTS = 3  # the gateway may still be starting when the first callback is due


@dataclass(frozen=True)
class SandboxCredentials:
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str


@dataclass
class StkPush:
    checkout_id: str
    merchant_id: str
    amount: int  # whole shillings
    phone: str  # 2547XXXXXXXX
    callback_url: str
    result_code: int  # decided at the push; reported once answered
    answered: bool = False  # the customer has "answered" (the query reports the result)
    callback_status: int | None = None  # the gateway's HTTP answer to the callback


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"requestId": secrets.token_hex(8), "errorCode": code,
                         "errorMessage": message}, status)


def callback_body(push: StkPush, receipt: str, at: datetime) -> dict[str, Any]:
    """The STK callback Daraja posts to the CallBackURL (metadata only on success)."""
    callback: dict[str, Any] = {
        "MerchantRequestID": push.merchant_id, "CheckoutRequestID": push.checkout_id,
        "ResultCode": push.result_code,
        "ResultDesc": SUCCESS_DESC if push.result_code == 0 else CANCELLED_DESC}
    if push.result_code == 0:
        callback["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": push.amount},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": int(at.astimezone(EAT).strftime("%Y%m%d%H%M%S"))},
            {"Name": "PhoneNumber", "Value": int(push.phone)}]}
    return {"Body": {"stkCallback": callback}}


@dataclass
class DarajaSandbox:
    credentials: SandboxCredentials
    callback_delay: float = 2.0
    cancel_every: int = 5  # every 5th push is cancelled by the "customer" (1032)
    pushes: dict[str, StkPush] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)
    _count: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Where callbacks go: the network by default; a test hands in an ASGI app's transport.
    callback_transport: httpx.AsyncBaseTransport | None = None
    _client: httpx.AsyncClient | None = None

    def app(self) -> Starlette:
        return Starlette(routes=[Route(TOKEN_PATH, self.token, methods=["GET"]),
                                 Route(STK_PATH, self.stk_push, methods=["POST"]),
                                 Route(STK_QUERY_PATH, self.stk_query, methods=["POST"])],
                         lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=10.0, transport=self.callback_transport) as client:
            self._client = client
            yield
            for task in list(self._tasks):
                task.cancel()

    async def token(self, request: Request) -> JSONResponse:
        if request.query_params.get("grant_type") != "client_credentials":
            return _error("400.008.02", "Invalid grant type passed", 400)
        c = self.credentials
        expected = base64.b64encode(f"{c.consumer_key}:{c.consumer_secret}".encode()).decode()
        if not secrets.compare_digest(request.headers.get("authorization", ""),
                                      f"Basic {expected}"):
            return _error("400.008.01", "Invalid Authentication passed", 400)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": "3599"})

    async def _body(self, request: Request) -> dict[str, Any] | JSONResponse:
        """The JSON body of an authorised call with a valid Password, or Daraja's refusal."""
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self._tokens:
            return _error("404.001.03", "Invalid Access Token", 404)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error("400.002.05", "Invalid Request Payload", 400)
        c = self.credentials
        stamp = str(body.get("Timestamp", ""))
        expected = base64.b64encode(f"{c.shortcode}{c.passkey}{stamp}".encode()).decode()
        if str(body.get("BusinessShortCode")) != c.shortcode:
            return _error("400.002.02", "Bad Request - Invalid BusinessShortCode", 400)
        if not re.fullmatch(r"\d{14}", stamp):
            return _error("400.002.02", "Bad Request - Invalid Timestamp", 400)
        if body.get("Password") != expected:
            return _error("500.001.1001", "Wrong credentials", 500)  # as Daraja answers it
        return body

    async def stk_push(self, request: Request) -> JSONResponse:
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        amount, phone = body.get("Amount"), str(body.get("PhoneNumber", ""))
        callback_url = str(body.get("CallBackURL", ""))
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            return _error("400.002.02", "Bad Request - Invalid Amount", 400)
        if not MSISDN.match(phone) or str(body.get("PartyA")) != phone:
            return _error("400.002.02", "Bad Request - Invalid PhoneNumber", 400)
        if not callback_url.startswith(("http://", "https://")):
            return _error("400.002.02", "Bad Request - Invalid CallBackURL", 400)
        n = next(self._count)
        now = datetime.now(UTC)
        push = StkPush(
            checkout_id=f"ws_CO_{now.astimezone(EAT):%d%m%Y%H%M%S}{n:06d}",
            merchant_id=f"{secrets.randbelow(9000) + 1000}-{secrets.randbelow(90000) + 10000}-{n}",
            amount=amount, phone=phone, callback_url=callback_url,
            result_code=CANCELLED if self.cancel_every and n % self.cancel_every == 0 else 0)
        self.pushes[push.checkout_id] = push
        task = asyncio.create_task(self._answer(push), name=f"stk-callback-{n}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        message = "Success. Request accepted for processing"
        return JSONResponse({"MerchantRequestID": push.merchant_id,
                             "CheckoutRequestID": push.checkout_id, "ResponseCode": "0",
                             "ResponseDescription": message, "CustomerMessage": message})

    async def stk_query(self, request: Request) -> JSONResponse:
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        push = self.pushes.get(str(body.get("CheckoutRequestID", "")))
        if push is None:
            return _error("400.002.02", "Bad Request - Invalid CheckoutRequestID", 400)
        if not push.answered:
            return _error("500.001.1001", "The transaction is being processed", 500)
        return JSONResponse({
            "ResponseCode": "0", "ResponseDescription": "The service request has been accepted "
            "successsfully", "MerchantRequestID": push.merchant_id,
            "CheckoutRequestID": push.checkout_id, "ResultCode": str(push.result_code),
            "ResultDesc": SUCCESS_DESC if push.result_code == 0 else CANCELLED_DESC})

    async def _answer(self, push: StkPush) -> None:
        """The customer answers the prompt after a while; Daraja then posts the callback."""
        await asyncio.sleep(self.callback_delay)
        # Answered before the callback is sent: the gateway confirms a callback with a query.
        push.answered = True
        receipt = "S" + secrets.token_hex(5).upper()[:9]
        body = callback_body(push, receipt, datetime.now(UTC))
        assert self._client is not None  # set by the lifespan, which outlives the tasks
        for attempt in range(CALLBACK_ATTEMPTS):
            try:
                answer = await self._client.post(push.callback_url, json=body)
            except httpx.HTTPError as exc:
                log.warning("STK callback not delivered", extra={
                    "checkout_request_id": push.checkout_id, "error": type(exc).__name__})
                await asyncio.sleep(2.0 * (attempt + 1))
                continue
            push.callback_status = answer.status_code
            log.info("STK callback delivered", extra={
                "checkout_request_id": push.checkout_id, "result_code": push.result_code,
                "status": answer.status_code})
            return

