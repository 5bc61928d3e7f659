"""A fake Orange Money Web Payment API (api.orange.com shape): OAuth v3, webpayment,
transactionstatus and the notification. Shapes follow reference/providers.md §3a.

The customer's behaviour on the payment page is an ``OrangeScenario`` picked by order_id
(``fake.scenarios.for_key(order_id, ...)``), queued (``fake.scenarios.next(...)``) or the
default (pays at once, notification sent).
"""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.payments.fakes.base import FakeProvider, Scripts

TOKEN = "/oauth/v3/token"
COUNTRY_CURRENCY = {"dev": "OUV", "ci": "XOF", "sn": "XOF", "cm": "XAF", "gn": "GNF"}


@dataclass
class OrangeScenario:
    final_status: str = "SUCCESS"  # SUCCESS, FAILED, EXPIRED
    initiated_queries: int = 0  # the first N status queries answer INITIATED
    pending_queries: int = 0  # then N answer PENDING
    notify: bool = True  # False: the notification never arrives
    notify_delay: float = 0.0
    notify_status: str | None = None  # what the notification claims (default: final_status)
    notify_copies: int = 1
    notify_concurrent: bool = False
    forged_notif_token: bool = False  # the notification carries a wrong notif_token


@dataclass
class _Order:
    order_id: str
    amount: int
    pay_token: str
    notif_token: str
    scenario: OrangeScenario
    txnid: str
    queries: int = 0


@dataclass
class FakeOrange(FakeProvider):
    client_id: str = "orange-client"
    client_secret: str = "orange-secret"
    merchant_key: str = "a1b2c3d4"
    country: str = "dev"
    token_lifetime: Any = 3600
    scenarios: Scripts[OrangeScenario] = field(default_factory=lambda: Scripts(OrangeScenario()))
    orders: dict[str, _Order] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(12345))

    @property
    def web_base(self) -> str:
        return f"{self.base_url}/orange-money-webpay/{self.country}/v1"

    def error_body(self, status: int) -> Any:
        names = {429: (1102, "Too many requests"), 503: (5001, "Service unavailable"),
                 500: (1, "Internal error"), 403: (50, "Access denied"),
                 400: (21, "Missing or invalid body")}
        code, message = names.get(status, (status, "Error"))
        return {"code": code, "message": message, "description": message}

    @staticmethod
    def _error(status: int, code: int, message: str, description: str) -> Response:
        return JSONResponse({"code": code, "message": message, "description": description},
                            status_code=status)

    async def token(self, request: Request) -> Response:
        _, fault = await self.gate(request)
        if fault:
            return fault
        if "application/json" not in request.headers.get("accept", ""):
            return self._error(406, 406, "Not Acceptable", "Accept: application/json required")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return self._error(401, 40, "Missing credentials", "Basic credentials required")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return self._error(401, 41, "Invalid credentials", "The client credentials are "
                               "invalid")
        form = parse_qs((await request.body()).decode())
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        return JSONResponse({"token_type": "Bearer", "access_token": self.issue_token(),
                             "expires_in": self.token_lifetime})

    def _auth(self, request: Request) -> Response | None:
        state = self.token_state(self.bearer(request))
        if state == "missing":
            return self._error(401, 40, "Missing credentials", "Bearer token required")
        if state == "unknown":
            return self._error(401, 41, "Invalid credentials", "Invalid access token")
        if state == "expired":
            return self._error(401, 42, "Expired credentials", "The access token expired")
        return None

    async def webpayment(self, request: Request) -> Response:
        body, fault = await self.gate(request)
        if fault:
            return fault
        refused = self._auth(request)
        if refused:
            return refused
        if not isinstance(body, dict):
            return self._error(400, 21, "Missing body field", "invalid JSON body")
        if body.get("merchant_key") != self.merchant_key:
            return self._error(400, 21, "Invalid merchant key", "merchant_key is invalid")
        if body.get("currency") != COUNTRY_CURRENCY.get(self.country):
            return self._error(400, 21, "Invalid currency", "currency is invalid here")
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return self._error(400, 21, "Invalid amount", "amount must be a positive integer")
        for name in ("order_id", "return_url", "cancel_url", "notif_url"):
            if not isinstance(body.get(name), str) or not body[name]:
                return self._error(400, 21, f"Missing body field: {name}", name)
        if body.get("lang") not in ("fr", "en"):
            return self._error(400, 21, "Invalid lang", "lang must be fr or en")
        order_id = body["order_id"]
        if order_id in self.orders:
            return self._error(400, 21, "Duplicate order_id", "order_id was already used")
        n = next(self._ids)
        order = _Order(order_id, amount, secrets.token_hex(16), secrets.token_hex(16),
                       self.scenarios.pick(order_id), f"MP260301.1012.A{n}")
        self.orders[order_id] = order
        s = order.scenario
        if s.notify:
            self.send_callback(body["notif_url"], {
                "status": s.notify_status or s.final_status,
                "notif_token": secrets.token_hex(16) if s.forged_notif_token else order.notif_token,
                "txnid": order.txnid}, delay=s.notify_delay, copies=s.notify_copies,
                concurrent=s.notify_concurrent)
        after = self.after_fault(request)
        if after:
            return after
        return JSONResponse({"status": 201, "message": "OK", "pay_token": order.pay_token,
                             "payment_url": f"{self.base_url}/payment/pay_token/{order.pay_token}",
                             "notif_token": order.notif_token}, status_code=201)

    async def transactionstatus(self, request: Request) -> Response:
        body, fault = await self.gate(request)
        if fault:
            return fault
        refused = self._auth(request)
        if refused:
            return refused
        if not isinstance(body, dict):
            return self._error(400, 21, "Missing body field", "invalid JSON body")
        order = self.orders.get(str(body.get("order_id")))
        if order is None or body.get("pay_token") != order.pay_token:
            return self._error(404, 404, "Transaction not found", "no such order/pay_token")
        if body.get("amount") != order.amount:
            return self._error(400, 21, "Invalid amount", "amount does not match the order")
        order.queries += 1
        s = order.scenario
        if order.queries <= s.initiated_queries:
            status = "INITIATED"
        elif order.queries <= s.initiated_queries + s.pending_queries:
            status = "PENDING"
        else:
            status = s.final_status
        answer: dict[str, Any] = {"status": status, "order_id": order.order_id}
        if status == "SUCCESS":
            answer["txnid"] = order.txnid
        return JSONResponse(answer, status_code=201)

    def app(self) -> Starlette:
        base = f"/orange-money-webpay/{self.country}/v1"
        return Starlette(routes=[
            Route(TOKEN, self.token, methods=["POST"]),
            Route(f"{base}/webpayment", self.webpayment, methods=["POST"]),
            Route(f"{base}/transactionstatus", self.transactionstatus, methods=["POST"]),
        ])
