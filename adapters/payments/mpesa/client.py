"""Safaricom M-Pesa Daraja: STK push (collection), STK query, B2C payout, Transaction Status.

Every call goes through the shared ``httpx.AsyncClient`` (outbound policy, pooled
connections) with a per-call timeout. The OAuth token (``GET /oauth/v1/generate``,
``expires_in`` a string) is cached and renewed before it expires, and once more when Daraja
refuses it (401 or ``404.001.03`` "Invalid Access Token").

What the port's answers mean here:

- ``initiate_collection`` -> ``ProviderAck(CheckoutRequestID, extra={"merchant_request_id"})``.
- ``query_collection``: the STK query confirms the ResultCode of that CheckoutRequestID; it
  returns neither amount nor payer (``None``); the callback's claimed Amount/PhoneNumber are
  compared by the domain. ``500.001.1001`` "being processed" -> ``pending``.
- ``initiate_payout`` (only with the B2C settings) -> ``ProviderAck(ConversationID,
  extra={"originator_conversation_id"})``; ``OriginatorConversationID`` is the attempt key.
- ``query_payout`` sends a Transaction Status query whose answer Daraja posts to the
  payout's ``result_url`` (parsed by ``parse_callback(kind="payout")``); it returns
  ``"unknown"`` since nothing is known synchronously.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from adapters.payments.mpesa.callbacks import (
    STK_STATES,
    parse_b2c_result,
    parse_stk_callback,
    result_code,
    state_for,
)
from adapters.payments.provider_http import AnswerRules, ProviderHttp
from adapters.settings.payments import MpesaConfig
from resolvers.payments.providers import (
    CallbackNotice,
    CollectionRequest,
    PayoutRequest,
    ProviderAck,
    ProviderRejected,
    ProviderStatus,
    ProviderUnavailable,
)

NAME = "mpesa"
EAT = timezone(timedelta(hours=3), "EAT")  # Kenya has no daylight saving
TOKEN_PATH = "/oauth/v1/generate"  # noqa: S105 (a path)
STK_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
STATUS_PATH = "/mpesa/transactionstatus/v1/query"
INVALID_TOKEN = "404.001.03"  # noqa: S105 (an error code)
BEING_PROCESSED = "500.001.1001"
_TEXT = re.compile(r"[^A-Za-z0-9 \-]")


def _short(text: str, limit: int) -> str:
    cleaned = _TEXT.sub("", text).strip()
    return cleaned[:limit] or "Payment"


def _msisdn(e164: str | None) -> str:
    if not e164 or not e164.startswith("+254") or not e164[1:].isdigit() or len(e164) != 13:
        raise ProviderRejected("invalid_phone", "M-Pesa needs a Kenyan mobile number (+2547/+2541...)")
    return e164[1:]


def _shillings(amount_minor: int, currency: str) -> int:
    if currency != "KES":
        raise ProviderRejected("invalid_currency", f"M-Pesa takes KES only, not {currency}")
    if amount_minor <= 0 or amount_minor % 100:
        raise ProviderRejected("invalid_amount", "M-Pesa takes whole shillings only")
    return amount_minor // 100


# Daraja names its errors by code, 404s included (404.001.03: invalid token), so a 404 is
# not "no record of the payment" here: it is refused by its code like any other 4xx.
ANSWERS = AnswerRules(provider=NAME, code_keys=("errorCode", "ResponseCode"),
                      message_keys=("errorMessage", "ResponseDescription"),
                      credentials_statuses=frozenset({401}),
                      credentials_codes=frozenset({INVALID_TOKEN}))


class MpesaProvider:
    name = NAME
    currencies = frozenset({"KES"})

    def __init__(self, http: httpx.AsyncClient, config: MpesaConfig, *,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._wire = ProviderHttp(http, ANSWERS, config, clock=clock)
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._now = now
        self.tokens = self._wire.token_cache(self._fetch_token)

    # ------------------------------------------------------------------ transport

    async def _fetch_token(self) -> tuple[str, float]:
        c = self._config
        return await self._wire.fetch_token("GET", self._base + TOKEN_PATH, user=c.consumer_key,
                                            secret=c.consumer_secret, default_lifetime=3599.0,
                                            params={"grant_type": "client_credentials"})

    @staticmethod
    def _token_refused(response: httpx.Response) -> bool:
        return response.status_code == 401 or ANSWERS.error(response)[0] == INVALID_TOKEN

    async def _post(self, path: str, payload: Mapping[str, Any], what: str) -> httpx.Response:
        """POST with a bearer token; renewed and sent once more if Daraja refuses the token."""
        return await self._wire.send_with_token(
            self.tokens, "POST", self._base + path, what=what, json=payload,
            refused=self._token_refused, headers={"Accept": "application/json"})

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        """Translate a non-200 answer; returns only for 200."""
        if response.status_code != 200:
            ANSWERS.raise_for(response, what)

    def _password(self) -> tuple[str, str]:
        stamp = self._now().astimezone(EAT).strftime("%Y%m%d%H%M%S")
        raw = f"{self._config.shortcode}{self._config.passkey}{stamp}".encode()
        return base64.b64encode(raw).decode(), stamp

    # ------------------------------------------------------------------ collections

    async def initiate_collection(self, request: CollectionRequest) -> ProviderAck:
        amount = _shillings(request.amount_minor, request.currency)
        msisdn = _msisdn(request.phone_e164)
        password, stamp = self._password()
        payload = {
            "BusinessShortCode": self._config.shortcode, "Password": password, "Timestamp": stamp,
            "TransactionType": self._config.transaction_type, "Amount": amount,
            "PartyA": msisdn, "PartyB": self._config.party_b or self._config.shortcode,
            "PhoneNumber": msisdn, "CallBackURL": request.callback_url,
            "AccountReference": _short(request.reference, 12),
            "TransactionDesc": _short(request.description, 13),
        }
        response = await self._post(STK_PATH, payload, "the STK push")
        self._raise_for(response, "the STK push")
        body = self._wire.json_object(response, "the STK push")
        checkout = body.get("CheckoutRequestID")
        if str(body.get("ResponseCode")) != "0" or not isinstance(checkout, str) or not checkout:
            code, message = ANSWERS.error_in(body)
            raise ProviderRejected(code or "not_accepted", message or "STK push not accepted")
        merchant = body.get("MerchantRequestID")
        return ProviderAck(provider_reference=checkout,
                           extra={"merchant_request_id": str(merchant)} if merchant else {})

    async def query_collection(self, provider_reference: str,
                               request: CollectionRequest) -> ProviderStatus:
        password, stamp = self._password()
        payload = {"BusinessShortCode": self._config.shortcode, "Password": password,
                   "Timestamp": stamp, "CheckoutRequestID": provider_reference}
        response = await self._post(STK_QUERY_PATH, payload, "the STK query")
        code, message = ANSWERS.error(response)
        if code == BEING_PROCESSED and "being processed" in message.lower():
            # 500.001.1001 also means e.g. "Merchant does not exist": only this text is pending.
            return ProviderStatus(state="pending", reason=f"{code}: {message}")
        self._raise_for(response, "the STK query")
        body = self._wire.json_object(response, "the STK query")
        try:
            result = result_code(body.get("ResultCode"))
        except ValueError:
            raise ProviderUnavailable("mpesa: STK query answer has no ResultCode",
                                      request_sent=True) from None
        desc = body.get("ResultDesc")
        return ProviderStatus(
            state=state_for(result, STK_STATES),
            reason=None if result == 0 else f"{result}: {desc if isinstance(desc, str) else ''}")

    # ------------------------------------------------------------------ payouts

    def _require_b2c(self) -> None:
        if not self._config.payouts_enabled:
            raise ProviderRejected("unsupported", "M-Pesa B2C payouts are not configured")

    async def initiate_payout(self, request: PayoutRequest) -> ProviderAck:
        self._require_b2c()
        amount = _shillings(request.amount_minor, request.currency)
        c = self._config
        payload = {
            "OriginatorConversationID": request.attempt_key, "InitiatorName": c.b2c_initiator_name,
            "SecurityCredential": c.b2c_security_credential, "CommandID": c.b2c_command_id,
            "Amount": amount, "PartyA": c.b2c_shortcode, "PartyB": _msisdn(request.phone_e164),
            "Remarks": _short(request.description, 100), "QueueTimeOutURL": request.timeout_url,
            "ResultURL": request.result_url, "Occasion": _short(request.reference, 100),
        }
        response = await self._post(B2C_PATH, payload, "the B2C payment request")
        self._raise_for(response, "the B2C payment request")
        body = self._wire.json_object(response, "the B2C payment request")
        conversation = body.get("ConversationID")
        if str(body.get("ResponseCode")) != "0" or not isinstance(conversation, str) \
                or not conversation:
            code, message = ANSWERS.error_in(body)
            raise ProviderRejected(code or "not_accepted", message or "B2C request not accepted")
        return ProviderAck(provider_reference=conversation,
                           extra={"originator_conversation_id": request.attempt_key})

    async def query_payout(self, provider_reference: str, request: PayoutRequest) -> ProviderStatus:
        """Ask Daraja's Transaction Status API; its answer arrives at ``request.result_url``."""
        self._require_b2c()
        c = self._config
        payload = {
            "Initiator": c.b2c_initiator_name, "SecurityCredential": c.b2c_security_credential,
            "CommandID": "TransactionStatusQuery", "TransactionID": "",
            "OriginalConversationID": request.attempt_key, "PartyA": c.b2c_shortcode,
            "IdentifierType": "4", "ResultURL": request.result_url,
            "QueueTimeOutURL": request.timeout_url, "Remarks": "Status", "Occasion": "",
        }
        response = await self._post(STATUS_PATH, payload, "the transaction status query")
        self._raise_for(response, "the transaction status query")
        self._wire.json_object(response, "the transaction status query")
        return ProviderStatus(state="unknown",
                              reason="status query accepted; the result is posted to the ResultURL")

    # ------------------------------------------------------------------ callbacks

    def parse_callback(self, body: bytes, *, kind: str = "collection") -> CallbackNotice:
        if kind == "collection":
            return parse_stk_callback(body)
        if kind == "payout":
            return parse_b2c_result(body)
        if kind == "payout_timeout":
            return parse_b2c_result(body, timeout=True)
        raise ValueError(f"unknown callback kind {kind!r}")
