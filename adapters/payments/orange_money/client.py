"""Orange Money Web Payment (api.orange.com): init, transaction status, notification.

Calls go through the shared ``httpx.AsyncClient`` with a per-call timeout. The token
(``POST {token_url}``, form ``grant_type=client_credentials``, Basic client_id:client_secret,
``Accept: application/json`` or Orange answers 406) is cached, renewed before expiry and once
more when Orange answers 401 code 42 (expired token).

- ``initiate_collection``: ``order_id`` is the attempt key (Orange needs it unique, and again
  for the status call) -> ``ProviderAck(pay_token, redirect_url=payment_url,
  extra={"notif_token", "order_id"})``. Store ``notif_token``: it is the only authenticity
  check of a notification.
- ``query_collection``: ``POST {base}/transactionstatus`` with order_id, amount, pay_token.
  It returns no amount or payer (Orange answers for the amount we send).
- Payouts: unsupported (``ProviderRejected("unsupported")``).
- Notification ``{status, notif_token, txnid}``: ``provider_reference`` is None (the callback
  URL's token names the payment); the domain compares ``notif_token`` with the stored one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.payments.provider_http import AnswerRules, ProviderHttp
from adapters.settings.payments import COUNTRY_CURRENCIES, OrangeConfig
from resolvers.input_rules import decode_json
from resolvers.payments.phone import currency_exponent
from resolvers.payments.providers import (
    CallbackNotice,
    CollectionRequest,
    PayoutRequest,
    ProviderAck,
    ProviderRejected,
    ProviderState,
    ProviderStatus,
    ProviderUnavailable,
)

NAME = "orange_money"
STATUS_STATES: Mapping[str, ProviderState] = {
    "INITIATED": "pending", "PENDING": "pending", "SUCCESS": "succeeded", "FAILED": "failed",
    "EXPIRED": "expired", "CANCELLED": "cancelled",
}
# Country path -> currency ("dev" is the sandbox and its pseudo-currency OUV).
EXPIRED_TOKEN = "42"  # noqa: S105 (an error code)


# 406: Orange refuses a token request without ``Accept: application/json``, a configuration
# fault like refused credentials.
ANSWERS = AnswerRules(provider=NAME, code_keys=("code", "status"),
                      message_keys=("description", "message"),
                      credentials_statuses=frozenset({401, 403, 406}), not_found_404=True)


class OrangeMoneyProvider:
    name = NAME

    def __init__(self, http: httpx.AsyncClient, config: OrangeConfig, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._wire = ProviderHttp(http, ANSWERS, config, clock=clock)
        self._config = config
        currency = COUNTRY_CURRENCIES.get(config.country.lower(), "")
        self.currencies = frozenset({currency}) if currency else frozenset[str]()
        self.tokens = self._wire.token_cache(self._fetch_token)

    async def _fetch_token(self) -> tuple[str, float]:
        c = self._config
        return await self._wire.fetch_token("POST", c.oauth_url, user=c.client_id,
                                            secret=c.client_secret, default_lifetime=3600.0,
                                            data={"grant_type": "client_credentials"},
                                            headers={"Accept": "application/json"})

    @staticmethod
    def _token_refused(response: httpx.Response) -> bool:
        # Orange answers 401 code 42 for an expired token; other 401s are refused credentials.
        return response.status_code == 401 and ANSWERS.error(response)[0] == EXPIRED_TOKEN

    async def _post(self, path: str, payload: Mapping[str, Any], what: str) -> httpx.Response:
        return await self._wire.send_with_token(
            self.tokens, "POST", f"{self._config.web_base}/{path}", what=what, json=payload,
            refused=self._token_refused, headers={"Accept": "application/json"})

    def _amount(self, amount_minor: int, currency: str) -> int:
        if currency not in self.currencies:
            raise ProviderRejected("invalid_currency", f"Orange Money ({self._config.country}) "
                                   f"takes {', '.join(sorted(self.currencies))}, not {currency}")
        if currency_exponent(currency) != 0 or amount_minor <= 0:
            raise ProviderRejected("invalid_amount", "Orange Money takes positive whole amounts")
        return amount_minor

    async def initiate_collection(self, request: CollectionRequest) -> ProviderAck:
        c = self._config
        payload = {
            "merchant_key": c.merchant_key, "currency": request.currency,
            "order_id": request.attempt_key,
            "amount": self._amount(request.amount_minor, request.currency),
            "return_url": c.return_url, "cancel_url": c.cancel_url,
            "notif_url": request.callback_url, "lang": c.lang,
            "reference": (c.merchant_label or request.reference)[:30],
        }
        response = await self._post("webpayment", payload, "the web payment init")
        if response.status_code not in (200, 201):
            ANSWERS.raise_for(response, "the web payment init")
        body = self._wire.json_object(response, "the web payment init")
        pay_token, payment_url = body.get("pay_token"), body.get("payment_url")
        notif_token = body.get("notif_token")
        if not all(isinstance(v, str) and v for v in (pay_token, payment_url, notif_token)):
            raise ProviderUnavailable("orange_money: init answer lacks pay_token, payment_url "
                                      "or notif_token", request_sent=True)
        if urlsplit(str(payment_url)).scheme != "https" and not c.web_base.startswith("http://"):
            raise ProviderUnavailable("orange_money: payment_url is not https", request_sent=True)
        return ProviderAck(provider_reference=str(pay_token), redirect_url=str(payment_url),
                           extra={"notif_token": str(notif_token),
                                  "order_id": request.attempt_key})

    async def query_collection(self, provider_reference: str,
                               request: CollectionRequest) -> ProviderStatus:
        payload = {"order_id": request.attempt_key, "amount": request.amount_minor,
                   "pay_token": provider_reference}
        response = await self._post("transactionstatus", payload, "the transaction status")
        if response.status_code not in (200, 201):
            ANSWERS.raise_for(response, "the transaction status")
        body = self._wire.json_object(response, "the transaction status")
        status = str(body.get("status") or "").upper()
        state = STATUS_STATES.get(status, "unknown")
        txnid = body.get("txnid")
        return ProviderStatus(state=state, provider_transaction_id=str(txnid) if txnid else None,
                              reason=None if state in ("succeeded", "pending") else status or None)

    async def initiate_payout(self, request: PayoutRequest) -> ProviderAck:
        raise ProviderRejected("unsupported", "Orange Money Web Payment has no payouts")

    async def query_payout(self, provider_reference: str, request: PayoutRequest) -> ProviderStatus:
        raise ProviderRejected("unsupported", "Orange Money Web Payment has no payouts")

    def parse_callback(self, body: bytes, *, kind: str = "collection") -> CallbackNotice:
        if kind != "collection":
            raise ValueError(f"Orange Money sends no {kind} callbacks")
        data = decode_json(body)  # the gateway's input rule; its refusals are ValueErrors
        if not isinstance(data, dict):
            raise ValueError("notification body is not a JSON object")
        status, notif_token, txnid = data.get("status"), data.get("notif_token"), data.get("txnid")
        if not isinstance(status, str) or status.upper() not in STATUS_STATES:
            raise ValueError("notification has no known status")
        if not isinstance(notif_token, str) or not notif_token:
            raise ValueError("notification has no notif_token")
        txn = str(txnid) if isinstance(txnid, str | int) and txnid else None
        state = STATUS_STATES[status.upper()]
        return CallbackNotice(
            provider_reference=None, claimed_state=state,
            event_id=f"orange:{notif_token}:{txn or ''}:{status.upper()}",
            notif_token=notif_token, provider_transaction_id=txn,
            reason=None if state == "succeeded" else status.upper())
