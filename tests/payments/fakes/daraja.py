"""A fake Safaricom Daraja: OAuth, STK push + query + callback, B2C + result/queue timeout,
Transaction Status. Shapes, codes and failure modes follow reference/providers.md §1.

Scenarios: ``fake.stk.for_key("254711000111", StkScenario(...))`` (by PhoneNumber), or
``fake.stk.next(StkScenario(...))`` for the next push, else ``fake.stk.default``. The same
for payouts with ``fake.b2c`` (by PartyB) and ``B2CScenario``.
"""

from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.payments.fakes.base import FakeProvider, Scripts

EAT = timezone(timedelta(hours=3))
STK = "/mpesa/stkpush/v1/processrequest"
STK_QUERY = "/mpesa/stkpushquery/v1/query"
B2C = "/mpesa/b2c/v3/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"
TOKEN = "/oauth/v1/generate"
MSISDN = re.compile(r"^254(7|1)\d{8}$")
DESCS = {0: "The service request is processed successfully.", 1: "The balance is insufficient "
         "for the transaction.", 1032: "Request cancelled by user", 1037: "DS timeout user "
         "cannot be reached", 1019: "Transaction has expired", 2001: "The initiator "
         "information is invalid.", 17: "System internal error.", 15: "Duplicate "
         "OriginatorConversationID.", 2: "Declined due to limit rule: less than the minimum "
         "transaction amount."}


@dataclass
class StkScenario:
    result_code: int = 0  # the truth the STK query reports once the customer answered
    callback_result_code: int | None = None  # what the callback claims (default: result_code)
    callback: bool = True  # False: the callback never arrives
    callback_delay: float = 0.0
    callback_copies: int = 1
    callback_concurrent: bool = False
    processing_queries: int = 0  # the first N STK queries answer 500.001.1001 "being processed"
    callback_amount: int | None = None  # claim another Amount (shillings) in the callback
    callback_phone: int | None = None  # claim another PhoneNumber in the callback


@dataclass
class B2CScenario:
    result_code: int = 0  # the payout's real outcome (0: money sent)
    queue_timeout: bool = False  # post to QueueTimeOutURL instead of the result (outcome unknown)
    result: bool = True  # False: no result is ever posted
    result_delay: float = 0.0
    result_copies: int = 1
    result_concurrent: bool = False


@dataclass
class _Push:
    checkout: str
    merchant: str
    amount: int
    phone: str
    callback_url: str
    scenario: StkScenario
    queries: int = 0


@dataclass
class _Payout:
    originator: str
    conversation: str
    amount: int
    phone: str
    result_url: str
    timeout_url: str
    result_code: int
    executed: bool  # money actually moved
    receipt: str


@dataclass
class FakeDaraja(FakeProvider):
    consumer_key: str = "ck-test"
    consumer_secret: str = "cs-test"
    shortcode: str = "174379"
    passkey: str = "pk-test"
    initiator: str = "testapi"
    security_credential: str = "cred-test"
    b2c_shortcode: str = "600000"
    token_lifetime: Any = "3599"  # Daraja sends a string
    stk: Scripts[StkScenario] = field(default_factory=lambda: Scripts(StkScenario()))
    b2c: Scripts[B2CScenario] = field(default_factory=lambda: Scripts(B2CScenario()))
    pushes: dict[str, _Push] = field(default_factory=dict)
    payouts: dict[str, _Payout] = field(default_factory=dict)  # by OriginatorConversationID
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def executed_payouts(self) -> int:
        """How many B2C payouts really moved money (duplicates don't)."""
        return sum(1 for p in self.payouts.values() if p.executed)

    def error_body(self, status: int) -> Any:
        code = {500: "500.003.1001", 503: "503.001.01", 429: "429.001.01"}.get(status,
                                                                                f"{status}.001.01")
        message = {429: "Too Many Requests", 503: "Service Unavailable"}.get(
            status, "Internal Server Error" if status >= 500 else "Bad Request")
        return self._error(code, message)

    def _error(self, code: str, message: str) -> dict[str, str]:
        return {"requestId": f"{next(self._ids)}-{next(self._ids)}-1", "errorCode": code,
                "errorMessage": message}

    def _bad(self, field_name: str) -> Response:
        return JSONResponse(self._error("400.002.02", f"Bad Request - Invalid {field_name}"),
                            status_code=400)

    # ------------------------------------------------------------------ routes

    async def token(self, request: Request) -> Response:
        _, fault = await self.gate(request)
        if fault:
            return fault
        if request.query_params.get("grant_type") != "client_credentials":
            return JSONResponse(self._error("400.008.02", "Invalid grant type passed"), 400)
        expected = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse(self._error("400.008.01", "Invalid Authentication passed"), 400)
        return JSONResponse({"access_token": self.issue_token(),
                             "expires_in": str(self.token_lifetime)})

    async def _authorised(self, request: Request) -> tuple[Any, Response | None]:
        body, fault = await self.gate(request)
        if fault:
            return body, fault
        if self.token_state(self.bearer(request)) != "valid":
            return body, JSONResponse(self._error("404.001.03", "Invalid Access Token"), 404)
        if not isinstance(body, dict):
            return body, JSONResponse(self._error("400.002.05", "Invalid Request Payload"), 400)
        return body, None

    def _check_password(self, body: dict[str, Any]) -> Response | None:
        if str(body.get("BusinessShortCode")) != self.shortcode:
            return self._bad("BusinessShortCode")
        stamp = str(body.get("Timestamp", ""))
        try:
            datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
        except ValueError:
            return self._bad("Timestamp")
        expected = base64.b64encode(f"{self.shortcode}{self.passkey}{stamp}".encode()).decode()
        if body.get("Password") != expected:
            return JSONResponse(self._error("500.001.1001", "Merchant does not exist"), 500)
        return None

    async def stk_push(self, request: Request) -> Response:
        body, refused = await self._authorised(request)
        if refused:
            return refused
        problem = self._check_password(body)
        if problem:
            return problem
        amount = body.get("Amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            return self._bad("Amount")
        for name in ("PartyA", "PhoneNumber"):
            if not MSISDN.match(str(body.get(name, ""))):
                return self._bad(name)
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            return self._bad("TransactionType")
        callback = str(body.get("CallBackURL", ""))
        if not callback.startswith(("http://", "https://")):
            return self._bad("CallBackURL")
        reference = str(body.get("AccountReference", ""))
        if not reference or len(reference) > 12:
            return self._bad("AccountReference")
        if not str(body.get("TransactionDesc", "")) or len(str(body["TransactionDesc"])) > 13:
            return self._bad("TransactionDesc")
        n = next(self._ids)
        push = _Push(checkout=f"ws_CO_{datetime.now(UTC):%d%m%Y%H%M%S}{n:06d}",
                     merchant=f"4410-1188-{n}", amount=amount, phone=str(body["PhoneNumber"]),
                     callback_url=callback, scenario=self.stk.pick(str(body["PhoneNumber"])))
        self.pushes[push.checkout] = push
        self._stk_callback(push)
        after = self.after_fault(request)
        if after:
            return after
        return JSONResponse({"MerchantRequestID": push.merchant, "CheckoutRequestID": push.checkout,
                             "ResponseCode": "0",
                             "ResponseDescription": "Success. Request accepted for processing",
                             "CustomerMessage": "Success. Request accepted for processing"})

    def _stk_callback(self, push: _Push) -> None:
        s = push.scenario
        if not s.callback:
            return
        code = s.result_code if s.callback_result_code is None else s.callback_result_code
        callback: dict[str, Any] = {"MerchantRequestID": push.merchant,
                                    "CheckoutRequestID": push.checkout, "ResultCode": code,
                                    "ResultDesc": DESCS.get(code, "Failed")}
        if code == 0:
            callback["CallbackMetadata"] = {"Item": [
                {"Name": "Amount", "Value": push.amount if s.callback_amount is None
                 else s.callback_amount},
                {"Name": "MpesaReceiptNumber", "Value": f"TC{next(self._ids):08d}"},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(f"{datetime.now(EAT):%Y%m%d%H%M%S}")},
                {"Name": "PhoneNumber", "Value": int(push.phone) if s.callback_phone is None
                 else s.callback_phone}]}
        self.send_callback(push.callback_url, {"Body": {"stkCallback": callback}},
                           delay=s.callback_delay, copies=s.callback_copies,
                           concurrent=s.callback_concurrent)

    async def stk_query(self, request: Request) -> Response:
        body, refused = await self._authorised(request)
        if refused:
            return refused
        problem = self._check_password(body)
        if problem:
            return problem
        push = self.pushes.get(str(body.get("CheckoutRequestID", "")))
        if push is None:
            return self._bad("CheckoutRequestID")
        push.queries += 1
        if push.queries <= push.scenario.processing_queries:
            return JSONResponse(self._error("500.001.1001", "The transaction is being processed"),
                                500)
        code = push.scenario.result_code
        return JSONResponse({"ResponseCode": "0", "ResponseDescription": "The service request "
                             "has been accepted successsfully", "MerchantRequestID": push.merchant,
                             "CheckoutRequestID": push.checkout, "ResultCode": str(code),
                             "ResultDesc": DESCS.get(code, "Failed")})

    def _check_initiator(self, body: dict[str, Any], name_field: str) -> Response | None:
        if body.get(name_field) != self.initiator:
            return self._bad(name_field)
        if not body.get("SecurityCredential"):
            return self._bad("SecurityCredential")
        for url in ("ResultURL", "QueueTimeOutURL"):
            if not str(body.get(url, "")).startswith(("http://", "https://")):
                return self._bad(url)
        return None

    async def b2c_request(self, request: Request) -> Response:
        body, refused = await self._authorised(request)
        if refused:
            return refused
        problem = self._check_initiator(body, "InitiatorName")
        if problem:
            return problem
        originator = str(body.get("OriginatorConversationID", ""))
        if not originator:
            return self._bad("OriginatorConversationID")
        if body.get("CommandID") not in ("SalaryPayment", "BusinessPayment", "PromotionPayment"):
            return self._bad("CommandID")
        if str(body.get("PartyA")) != self.b2c_shortcode:
            return self._bad("PartyA")
        if not MSISDN.match(str(body.get("PartyB", ""))):
            return self._bad("PartyB")
        amount = body.get("Amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            return self._bad("Amount")
        n = next(self._ids)
        conversation = f"AG_{datetime.now(UTC):%Y%m%d}_{n:020d}"
        duplicate = originator in self.payouts
        scenario = self.b2c.pick(str(body["PartyB"]))
        if body.get("SecurityCredential") != self.security_credential:
            code = 2001
        elif duplicate:
            code = 15
        elif amount < 10:
            code = 2
        else:
            code = scenario.result_code
        payout = _Payout(originator, conversation, int(amount), str(body["PartyB"]),
                         str(body["ResultURL"]), str(body["QueueTimeOutURL"]), code,
                         executed=code == 0, receipt=f"UB{n:08d}")
        if not duplicate:
            self.payouts[originator] = payout
        self._b2c_result(payout, scenario)
        after = self.after_fault(request)
        if after:
            return after
        return JSONResponse({"ConversationID": conversation, "OriginatorConversationID": originator,
                             "ResponseCode": "0",
                             "ResponseDescription": "Accept the service request successfully."})

    def _b2c_result(self, payout: _Payout, s: B2CScenario) -> None:
        result: dict[str, Any] = {
            "ResultType": 0, "ResultCode": payout.result_code,
            "ResultDesc": DESCS.get(payout.result_code, "Failed"),
            "OriginatorConversationID": payout.originator,
            "ConversationID": payout.conversation, "TransactionID": payout.receipt,
            "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL",
                                                "Value": payout.timeout_url}}}
        if s.queue_timeout:
            result.update(ResultType=1, ResultCode=1, ResultDesc="The request timed out in the "
                          "queue", TransactionID="")
            self.send_callback(payout.timeout_url, {"Result": result}, delay=s.result_delay,
                               copies=s.result_copies, concurrent=s.result_concurrent)
            return
        if not s.result:
            return
        if payout.result_code == 0:
            result["ResultParameters"] = {"ResultParameter": [
                {"Key": "TransactionAmount", "Value": payout.amount},
                {"Key": "TransactionReceipt", "Value": payout.receipt},
                {"Key": "ReceiverPartyPublicName", "Value": f"{payout.phone} - Test Payee"},
                {"Key": "TransactionCompletedDateTime",
                 "Value": f"{datetime.now(EAT):%d.%m.%Y %H:%M:%S}"},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CUtilityAccountAvailableFunds", "Value": 10116.0},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 900000.0},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": -1540.0}]}
        self.send_callback(payout.result_url, {"Result": result}, delay=s.result_delay,
                           copies=s.result_copies, concurrent=s.result_concurrent)

    async def transaction_status(self, request: Request) -> Response:
        body, refused = await self._authorised(request)
        if refused:
            return refused
        problem = self._check_initiator(body, "Initiator")
        if problem:
            return problem
        if body.get("CommandID") != "TransactionStatusQuery":
            return self._bad("CommandID")
        wanted = str(body.get("OriginalConversationID") or body.get("TransactionID") or "")
        payout = self.payouts.get(wanted) or next(
            (p for p in self.payouts.values() if wanted in (p.receipt, p.conversation)), None)
        if payout is None:
            return self._bad("OriginalConversationID")
        n = next(self._ids)
        conversation, originator = f"AG_{datetime.now(UTC):%Y%m%d}_{n:020d}", f"{n}-status"
        status = "Completed" if payout.executed else "Failed"
        self.send_callback(str(body["ResultURL"]), {"Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed "
            "successfully.", "OriginatorConversationID": originator,
            "ConversationID": conversation, "TransactionID": payout.receipt,
            "ResultParameters": {"ResultParameter": [
                {"Key": "ReceiptNo", "Value": payout.receipt},
                {"Key": "ConversationID", "Value": payout.conversation},
                {"Key": "OriginatorConversationID", "Value": payout.originator},
                {"Key": "TransactionStatus", "Value": status},
                {"Key": "Amount", "Value": payout.amount},
                {"Key": "ReasonType", "Value": "Salary Payment via API"},
                {"Key": "CreditPartyName", "Value": f"{payout.phone} - Test Payee"}]}}})
        return JSONResponse({"OriginatorConversationID": originator, "ConversationID": conversation,
                             "ResponseCode": "0",
                             "ResponseDescription": "Accept the service request successfully."})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(TOKEN, self.token, methods=["GET"]),
            Route(STK, self.stk_push, methods=["POST"]),
            Route(STK_QUERY, self.stk_query, methods=["POST"]),
            Route(B2C, self.b2c_request, methods=["POST"]),
            Route(STATUS, self.transaction_status, methods=["POST"]),
        ])
