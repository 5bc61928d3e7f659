"""MTN MoMo Open API: Collection (request to pay) and Disbursement (transfer).

Calls go through the shared ``httpx.AsyncClient`` with a per-call timeout. Each product has
its own subscription key and token (``POST /{product}/token/``, Basic apiUser:apiKey), cached
and renewed before expiry and once more on a 401.

- ``X-Reference-Id`` is the attempt key (a uuid4 persisted before the call). A retry with the
  same key that MoMo answers ``409 RESOURCE_ALREADY_EXIST`` was accepted the first time: it
  is an ack, never a second payment.
- The status calls answer 200 even for failed payments; 404 ``RESOURCE_NOT_FOUND`` raises
  ``ProviderRejected("not_found")``: MoMo has no record of the attempt, so it never landed.
- MoMo calls back once without retry: the domain must poll ``query_*``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.payments.mtn_momo.parsing import parse_callback, status_from
from adapters.payments.provider_http import TokenCache, json_body, json_object, lifetime_seconds, log, send
from resolvers.payments.phone import to_major
from resolvers.payments.providers import (
    CallbackNotice,
    CollectionRequest,
    PayoutRequest,
    ProviderAck,
    ProviderRejected,
    ProviderStatus,
    ProviderUnavailable,
)

NAME = "mtn_momo"
_NOTE = re.compile(r"[^A-Za-z0-9 .,\-]")
# 500 reasons that are final: the request was refused, nothing will happen.
_REJECTING_500 = frozenset({"NOT_ALLOWED", "NOT_ALLOWED_TARGET_ENVIRONMENT",
                            "INVALID_CALLBACK_URL_HOST", "INVALID_CURRENCY"})
# Market -> currency for production target environments (the sandbox takes EUR only).
ENVIRONMENT_CURRENCIES: Mapping[str, str] = {
    "sandbox": "EUR", "mtnuganda": "UGX", "mtnghana": "GHS", "mtnivorycoast": "XOF",
    "mtncameroon": "XAF", "mtnzambia": "ZMW", "mtnbenin": "XOF", "mtncongo": "XAF",
    "mtnswaziland": "SZL", "mtnguineaconakry": "GNF", "mtnsouthafrica": "ZAR",
    "mtnliberia": "LRD", "mtnrwanda": "RWF",
}


@dataclass(frozen=True)
class MomoConfig:
    base_url: str
    collection_subscription_key: str
    api_user: str
    api_key: str
    target_environment: str = "sandbox"
    callback_host: str = ""  # the API user's providerCallbackHost; checked before sending
    disbursement_subscription_key: str = ""  # empty: payouts unsupported
    disbursement_api_user: str = ""  # defaults to api_user
    disbursement_api_key: str = ""  # defaults to api_key
    timeout_seconds: float = 15.0
    token_margin_seconds: float = 120.0

    @property
    def currency(self) -> str:
        return ENVIRONMENT_CURRENCIES.get(self.target_environment, "")


@dataclass(frozen=True)
class _Product:
    name: str  # "collection" | "disbursement"
    key: str
    tokens: TokenCache
    path: str  # "requesttopay" | "transfer"
    party: str  # "payer" | "payee"


def _note(text: str) -> str:
    return _NOTE.sub("", text).strip()[:160]


def _error(body: object) -> tuple[str, str]:
    if isinstance(body, Mapping):
        code = body.get("code") or body.get("error") or body.get("statusCode") or ""
        message = body.get("message") or body.get("error_description") or ""
        return str(code), str(message)[:200]
    return "", ""


class MomoProvider:
    name = NAME

    def __init__(self, http: httpx.AsyncClient, config: MomoConfig, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._config = config
        self._base = config.base_url.rstrip("/")
        self.currencies = frozenset({config.currency}) if config.currency else frozenset[str]()
        margin = config.token_margin_seconds
        self.collection = _Product(
            "collection", config.collection_subscription_key,
            TokenCache(self._token_fetcher("collection", config.collection_subscription_key,
                                           config.api_user, config.api_key),
                       margin_seconds=margin, clock=clock),
            "requesttopay", "payer")
        self.disbursement: _Product | None = None
        if config.disbursement_subscription_key:
            key = config.disbursement_subscription_key
            self.disbursement = _Product(
                "disbursement", key,
                TokenCache(self._token_fetcher(
                    "disbursement", key, config.disbursement_api_user or config.api_user,
                    config.disbursement_api_key or config.api_key),
                    margin_seconds=margin, clock=clock),
                "transfer", "payee")

    # ------------------------------------------------------------------ transport

    def _token_fetcher(self, product: str, key: str, user: str, secret: str
                       ) -> Callable[[], Any]:
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode()

        async def fetch() -> tuple[str, float]:
            response = await send(self._http, "POST", f"{self._base}/{product}/token/",
                                  provider=NAME, what=f"the {product} token request",
                                  timeout_seconds=self._config.timeout_seconds,
                                  headers={"Authorization": f"Basic {basic}",
                                           "Ocp-Apim-Subscription-Key": key})
            if response.status_code != 200:
                code, message = _error(json_body(response))
                raise ProviderUnavailable(f"mtn_momo: {product} token request answered "
                                          f"{response.status_code} {code} {message}".strip(),
                                          request_sent=False)
            body = json_object(response, provider=NAME, what="the token request")
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise ProviderUnavailable("mtn_momo: token answer has no access_token",
                                          request_sent=False)
            return token, lifetime_seconds(body.get("expires_in"), 3600.0)

        return fetch

    async def _call(self, product: _Product, method: str, path: str, what: str, *,
                    headers: Mapping[str, str] | None = None,
                    payload: Mapping[str, Any] | None = None) -> httpx.Response:
        for attempt in (1, 2):
            token = await product.tokens.get()
            response = await send(
                self._http, method, f"{self._base}/{product.name}/v1_0/{path}", provider=NAME,
                what=what, timeout_seconds=self._config.timeout_seconds, json=payload,
                headers={"Authorization": f"Bearer {token}",
                         "Ocp-Apim-Subscription-Key": product.key,
                         "X-Target-Environment": self._config.target_environment,
                         **(headers or {})})
            if response.status_code != 401 or attempt == 2:
                return response
            product.tokens.drop(token)
            log.info("mtn_momo refused the access token; renewing it")
        raise AssertionError("unreachable")

    @staticmethod
    def _raise_for(response: httpx.Response, what: str) -> None:
        status = response.status_code
        code, message = _error(json_body(response))
        detail = f"mtn_momo answered {status} to {what}: {code} {message}".strip()
        if status in (401, 403):
            raise ProviderUnavailable(detail + " (credentials refused)", request_sent=False)
        if status == 404:
            raise ProviderRejected("not_found", detail)
        if status == 500 and code in _REJECTING_500:
            raise ProviderRejected(code, message or detail)
        if status >= 500 or status in (408, 429):
            raise ProviderUnavailable(detail, request_sent=True)
        raise ProviderRejected(code or f"http_{status}", message or detail)

    # ------------------------------------------------------------------ operations

    def _check(self, currency: str, phone: str | None, callback_url: str) -> str:
        if currency not in self.currencies:
            raise ProviderRejected("INVALID_CURRENCY", f"the {self._config.target_environment} "
                                   f"environment takes {', '.join(sorted(self.currencies))}")
        if not phone or not phone.startswith("+") or not phone[1:].isdigit():
            raise ProviderRejected("invalid_phone", "MTN MoMo needs an E.164 MSISDN")
        host = urlsplit(callback_url).hostname or ""
        if self._config.callback_host and host != self._config.callback_host.lower():
            raise ProviderRejected("INVALID_CALLBACK_URL_HOST",
                                   "the callback URL host is not the registered callback host")
        return phone[1:]

    async def _initiate(self, product: _Product, *, key: str, amount_minor: int, currency: str,
                        phone: str | None, reference: str, description: str,
                        callback_url: str) -> ProviderAck:
        msisdn = self._check(currency, phone, callback_url)
        payload = {"amount": to_major(amount_minor, currency), "currency": currency,
                   "externalId": reference[:64],
                   product.party: {"partyIdType": "MSISDN", "partyId": msisdn},
                   "payerMessage": _note(description), "payeeNote": _note(reference)}
        what = f"the {product.path} request"
        headers = {"X-Reference-Id": key}
        if callback_url:
            headers["X-Callback-Url"] = callback_url
        response = await self._call(product, "POST", product.path, what, headers=headers,
                                    payload=payload)
        if response.status_code in (200, 201, 202):
            return ProviderAck(provider_reference=key)
        code, _ = _error(json_body(response))
        if response.status_code == 409 and code == "RESOURCE_ALREADY_EXIST":
            log.info("mtn_momo: %s already accepted for this reference id (retry)", product.path)
            return ProviderAck(provider_reference=key, extra={"already_accepted": "true"})
        self._raise_for(response, what)
        raise AssertionError("unreachable")

    async def _query(self, product: _Product, reference: str) -> ProviderStatus:
        what = f"the {product.path} status query"
        response = await self._call(product, "GET", f"{product.path}/{reference}", what)
        if response.status_code != 200:
            self._raise_for(response, what)
        return status_from(json_object(response, provider=NAME, what=what), product.party)

    async def initiate_collection(self, request: CollectionRequest) -> ProviderAck:
        return await self._initiate(
            self.collection, key=request.attempt_key, amount_minor=request.amount_minor,
            currency=request.currency, phone=request.phone_e164, reference=request.reference,
            description=request.description, callback_url=request.callback_url)

    async def query_collection(self, provider_reference: str,
                               request: CollectionRequest) -> ProviderStatus:
        return await self._query(self.collection, provider_reference)

    def _payouts(self) -> _Product:
        if self.disbursement is None:
            raise ProviderRejected("unsupported", "MTN MoMo disbursements are not configured")
        return self.disbursement

    async def initiate_payout(self, request: PayoutRequest) -> ProviderAck:
        return await self._initiate(
            self._payouts(), key=request.attempt_key, amount_minor=request.amount_minor,
            currency=request.currency, phone=request.phone_e164, reference=request.reference,
            description=request.description, callback_url=request.result_url)

    async def query_payout(self, provider_reference: str, request: PayoutRequest) -> ProviderStatus:
        return await self._query(self._payouts(), provider_reference)

    def parse_callback(self, body: bytes, *, kind: str = "collection") -> CallbackNotice:
        return parse_callback(body, kind)
