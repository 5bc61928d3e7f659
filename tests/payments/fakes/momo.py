"""A fake MTN MoMo Open API: Collection (request to pay) and Disbursement (transfer).
Shapes, codes and failure modes follow reference/providers.md §2.

Outcomes: the sandbox magic MSISDNs (``46733123450`` failed, ``…451`` rejected, ``…452``
expired, ``…453`` ongoing forever, ``…454`` delayed: pending for ``delayed_seconds`` then
successful, ``…455`` payer not found) and otherwise a ``MomoScenario`` picked by MSISDN
(``fake.scenarios.for_key("256772123456", MomoScenario(...))``), queued
(``fake.scenarios.next(...)``) or the default (successful at once). MoMo calls back once,
without retry, to ``X-Callback-Url`` (POST, or PUT with ``callback_method="PUT"``).
"""

from __future__ import annotations

import base64
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.payments.fakes.base import FakeProvider, Scripts

ENVIRONMENT_CURRENCY = {"sandbox": "EUR", "mtnuganda": "UGX", "mtnghana": "GHS"}
SUBSCRIPTION_DENIED = {"statusCode": 401, "message": "Access denied due to invalid subscription "
                       "key. Make sure to provide a valid key for an active subscription."}


@dataclass
class MomoScenario:
    status: str = "SUCCESSFUL"  # final status the status query reports
    reason: str | None = None  # failure reason code
    pending_seconds: float = 0.0  # PENDING until this long after the request
    pending_forever: bool = False
    callback: bool = True  # False: no callback (MoMo's callback is best effort)
    callback_delay: float | None = None  # default: pending_seconds
    callback_status: str | None = None  # what the callback claims (default: status)
    callback_method: str = "POST"
    callback_copies: int = 1  # MoMo sends once; >1 only to test duplicate handling
    reason_as_object: bool = False  # swagger {code, message} instead of the sandbox string


def _magic(delayed_seconds: float) -> dict[str, MomoScenario]:
    return {
        "46733123450": MomoScenario("FAILED", "INTERNAL_PROCESSING_ERROR"),
        "46733123451": MomoScenario("FAILED", "APPROVAL_REJECTED"),
        "46733123452": MomoScenario("FAILED", "EXPIRED"),
        "46733123453": MomoScenario("PENDING", pending_forever=True, callback=False),
        "46733123454": MomoScenario("SUCCESSFUL", pending_seconds=delayed_seconds),
        "46733123455": MomoScenario("FAILED", "PAYER_NOT_FOUND"),
    }


@dataclass
class _Transaction:
    reference: str
    product: str
    body: dict[str, Any]
    scenario: MomoScenario
    created: float
    financial_id: str


@dataclass
class FakeMomo(FakeProvider):
    api_user: str = "7d1c1c7e-1111-4e7a-9f2b-7d8c5e4a1b90"
    api_key: str = "momo-api-key"
    collection_key: str = "collection-sub-key"
    disbursement_key: str = "disbursement-sub-key"
    target_environment: str = "sandbox"
    callback_host: str = "127.0.0.1"
    delayed_seconds: float = 1.0
    token_lifetime: Any = 3600
    scenarios: Scripts[MomoScenario] = field(default_factory=lambda: Scripts(MomoScenario()))
    transactions: dict[str, _Transaction] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1820456731))

    def executed(self, product: str = "disbursement") -> int:
        """How many transactions of ``product`` were created (each at most once per id)."""
        return sum(1 for t in self.transactions.values() if t.product == product)

    def error_body(self, status: int) -> Any:
        code = {500: "INTERNAL_PROCESSING_ERROR", 503: "SERVICE_UNAVAILABLE",
                429: "TOO_MANY_REQUESTS"}.get(status, "BAD_REQUEST")
        return {"code": code, "message": code.replace("_", " ").capitalize()}

    @staticmethod
    def _error(status: int, code: str, message: str) -> Response:
        return JSONResponse({"code": code, "message": message}, status_code=status)

    async def token(self, request: Request) -> Response:
        product = request.path_params["product"]
        _, fault = await self.gate(request)
        if fault:
            return fault
        key = self.collection_key if product == "collection" else self.disbursement_key
        if request.headers.get("ocp-apim-subscription-key") != key:
            return JSONResponse(SUBSCRIPTION_DENIED, status_code=401)
        expected = base64.b64encode(f"{self.api_user}:{self.api_key}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "login_failed"}, status_code=401)
        return JSONResponse({"access_token": self.issue_token(), "token_type": "access_token",
                             "expires_in": self.token_lifetime})

    def _auth(self, request: Request, product: str) -> Response | None:
        key = self.collection_key if product == "collection" else self.disbursement_key
        if request.headers.get("ocp-apim-subscription-key") != key:
            return JSONResponse(SUBSCRIPTION_DENIED, status_code=401)
        state = self.token_state(self.bearer(request))
        if state != "valid":
            return JSONResponse({"statusCode": 401, "message": "Access token is " + (
                "expired" if state == "expired" else "missing or invalid")}, status_code=401)
        if request.headers.get("x-target-environment") != self.target_environment:
            return self._error(500, "NOT_ALLOWED_TARGET_ENVIRONMENT",
                               "Access to target environment is forbidden.")
        return None

    async def create(self, request: Request) -> Response:
        product, kind = request.path_params["product"], request.path_params["kind"]
        party = "payer" if kind == "requesttopay" else "payee"
        body, fault = await self.gate(request)
        if fault:
            return fault
        refused = self._auth(request, product)
        if refused:
            return refused
        reference = request.headers.get("x-reference-id", "")
        try:
            if uuid.UUID(reference).version != 4:
                raise ValueError
        except ValueError:
            return self._error(400, "INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID v4")
        if reference in self.transactions:
            return self._error(409, "RESOURCE_ALREADY_EXIST",
                               "Duplicated reference id. Creation of resource failed.")
        if not isinstance(body, dict):
            return self._error(400, "BAD_REQUEST", "invalid body")
        callback = request.headers.get("x-callback-url")
        if callback and urlsplit(callback).hostname != self.callback_host:
            return self._error(500, "INVALID_CALLBACK_URL_HOST", "Callback URL with host "
                               "not matching the registered callback host")
        if body.get("currency") != ENVIRONMENT_CURRENCY.get(self.target_environment):
            return self._error(500, "INVALID_CURRENCY", "Currency not supported.")
        amount = body.get("amount")
        if not isinstance(amount, str) or not amount.replace(".", "", 1).isdigit():
            return self._error(400, "BAD_REQUEST", "amount must be a numeric string")
        target = body.get(party)
        if not isinstance(target, dict) or target.get("partyIdType") != "MSISDN" \
                or not str(target.get("partyId", "")).isdigit():
            return self._error(400, "BAD_REQUEST", f"{party} must be an MSISDN party")
        for note in ("payerMessage", "payeeNote"):
            text = body.get(note, "")
            if not isinstance(text, str) or len(text) > 160 or "'" in text:
                return self._error(400, "BAD_REQUEST", f"{note} is invalid")
        msisdn = str(target["partyId"])
        scenario = _magic(self.delayed_seconds).get(msisdn) or self.scenarios.pick(msisdn)
        tx = _Transaction(reference, product, body, scenario, time.monotonic(),
                          str(next(self._ids)))
        self.transactions[reference] = tx
        if callback and scenario.callback:
            delay = scenario.pending_seconds if scenario.callback_delay is None \
                else scenario.callback_delay
            self.send_callback(callback, self._status_body(tx, party, scenario.callback_status),
                               delay=delay, copies=scenario.callback_copies,
                               method=scenario.callback_method)
        after = self.after_fault(request)
        if after:
            return after
        return Response(status_code=202)

    def _status_body(self, tx: _Transaction, party: str, claim: str | None = None) -> dict[str, Any]:
        s = tx.scenario
        pending = s.pending_forever or time.monotonic() - tx.created < s.pending_seconds
        status = claim or ("PENDING" if pending else s.status)
        body: dict[str, Any] = {key: tx.body.get(key) for key in
                                ("amount", "currency", "externalId", party, "payerMessage",
                                 "payeeNote")}
        body["status"] = status
        if status == "SUCCESSFUL":
            body["financialTransactionId"] = tx.financial_id
        if status == "FAILED" and s.reason:
            body["reason"] = ({"code": s.reason, "message": s.reason.replace("_", " ").lower()}
                              if s.reason_as_object else s.reason)
        return body

    async def status(self, request: Request) -> Response:
        product, kind = request.path_params["product"], request.path_params["kind"]
        _, fault = await self.gate(request, f"/{product}/v1_0/{kind}/{{ref}}")
        if fault:
            return fault
        refused = self._auth(request, product)
        if refused:
            return refused
        tx = self.transactions.get(request.path_params["ref"])
        if tx is None or tx.product != product:
            return self._error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return JSONResponse(self._status_body(tx, "payer" if kind == "requesttopay" else "payee"))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/{product:str}/token/", self.token, methods=["POST"]),
            Route("/{product:str}/v1_0/{kind:str}", self.create, methods=["POST"]),
            Route("/{product:str}/v1_0/{kind:str}/{ref:str}", self.status, methods=["GET"]),
        ])
