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

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.http.token_cache import TokenCache
from adapters.payments.mtn_momo.parsing import parse_callback, status_from
from adapters.payments.provider_http import AnswerRules, ProviderHttp, log
from adapters.settings.payments import MomoConfig
from resolvers.payments.phone import to_major
from resolvers.payments.providers import (
    CallbackNotice,
    CollectionRequest,
    PayoutRequest,
    ProviderAck,
    ProviderRejected,
    ProviderStatus,
)

NAME = "mtn_momo"
_NOTE = re.compile(r"[^A-Za-z0-9 .,\-]")
# 500 reasons that are final: the request was refused, nothing will happen.
_REJECTING_500 = frozenset({"NOT_ALLOWED", "NOT_ALLOWED_TARGET_ENVIRONMENT",
                            "INVALID_CALLBACK_URL_HOST", "INVALID_CURRENCY"})
@dataclass(frozen=True)
class _Product:
    name: str  # "collection" | "disbursement"
    key: str
    tokens: TokenCache
    path: str  # "requesttopay" | "transfer"
    party: str  # "payer" | "payee"


def _note(text: str) -> str:
    return _NOTE.sub("", text).strip()[:160]


ANSWERS = AnswerRules(provider=NAME, code_keys=("code", "error", "statusCode"),
                      message_keys=("message", "error_description"),
                      credentials_statuses=frozenset({401, 403}), not_found_404=True,
                      final_500_codes=_REJECTING_500)


class MomoProvider:
    name = NAME

    def __init__(self, http: httpx.AsyncClient, config: MomoConfig, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._wire = ProviderHttp(http, ANSWERS, config, clock=clock)
        self._config = config
        self._base = config.base_url.rstrip("/")
        self.currencies = frozenset({config.currency}) if config.currency else frozenset[str]()
        self.collection = _Product(
            "collection", config.collection_subscription_key,
            self._wire.token_cache(self._token_fetcher(
                "collection", config.collection_subscription_key, config.api_user,
                config.api_key)),
            "requesttopay", "payer")
        self.disbursement: _Product | None = None
        if config.disbursement_subscription_key:
            key = config.disbursement_subscription_key
            self.disbursement = _Product(
                "disbursement", key,
                self._wire.token_cache(self._token_fetcher(
                    "disbursement", key, config.disbursement_api_user or config.api_user,
                    config.disbursement_api_key or config.api_key)),
                "transfer", "payee")

    # ------------------------------------------------------------------ transport

    def _token_fetcher(self, product: str, key: str, user: str, secret: str
                       ) -> Callable[[], Awaitable[tuple[str, float]]]:
        async def fetch() -> tuple[str, float]:
            return await self._wire.fetch_token(
                "POST", f"{self._base}/{product}/token/", user=user, secret=secret,
                default_lifetime=3600.0, what=f"the {product} token request",
                headers={"Ocp-Apim-Subscription-Key": key})

        return fetch

    async def _call(self, product: _Product, method: str, path: str, what: str, *,
                    headers: Mapping[str, str] | None = None,
                    payload: Mapping[str, Any] | None = None) -> httpx.Response:
        return await self._wire.send_with_token(
            product.tokens, method, f"{self._base}/{product.name}/v1_0/{path}", what=what,
            json=payload, refused=lambda response: response.status_code == 401,
            headers={"Ocp-Apim-Subscription-Key": product.key,
                     "X-Target-Environment": self._config.target_environment,
                     **(headers or {})})

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
        code, _ = ANSWERS.error(response)
        if response.status_code == 409 and code == "RESOURCE_ALREADY_EXIST":
            log.info("mtn_momo: %s already accepted for this reference id (retry)", product.path)
            return ProviderAck(provider_reference=key, extra={"already_accepted": "true"})
        ANSWERS.raise_for(response, what)

    async def _query(self, product: _Product, reference: str) -> ProviderStatus:
        what = f"the {product.path} status query"
        response = await self._call(product, "GET", f"{product.path}/{reference}", what)
        if response.status_code != 200:
            ANSWERS.raise_for(response, what)
        return status_from(self._wire.json_object(response, what), product.party)

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
