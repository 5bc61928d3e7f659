"""HTTP to the mobile-money providers (M-Pesa, MTN MoMo, Orange Money), shared by their adapters.

The three speak the same conversation: a client-credentials token fetched with Basic auth,
calls with that token as Bearer (renewed and resent once when refused), and answers judged
by HTTP status plus a provider error code. What differs is data, held by
:class:`AnswerRules`; :class:`ProviderHttp` is the conversation.

- Transport failures become :class:`~resolvers.payments.providers.ProviderUnavailable`, with
  ``request_sent`` False only when the request certainly never reached the provider (connect
  refused or timed out, pool exhausted, refused by the outbound policy) and True otherwise
  (read timeout, connection dropped mid-answer: the outcome is unknown).
- Refused credentials are ``ProviderUnavailable(request_sent=False)``: nothing happened, and
  an operator must fix the configuration. Overload, timeouts and 5xx are
  ``ProviderUnavailable(request_sent=True)``: query, never resend money. Other refusals are
  :class:`~resolvers.payments.providers.ProviderRejected` with the provider's code.

Nothing here logs bodies, phone numbers or tokens.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

import httpx

from adapters.http.outbound import OutboundRefused
from adapters.http.token_cache import TokenCache
from resolvers.payments.providers import ProviderRejected, ProviderUnavailable

log = logging.getLogger("cari.payments")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
             httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_RETRYABLE_STATUSES = frozenset({408, 429})


def timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(5.0, seconds))


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON answer, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def lifetime_seconds(raw: object, default: float) -> float:
    """``expires_in`` as seconds; providers send numbers or strings ("3599")."""
    try:
        value = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) \
            else default
    except ValueError:
        return default
    return value if value > 0 else default


def basic_credentials(user: str, secret: str) -> str:
    """The ``Authorization`` value of a token request: ``Basic base64(user:secret)``."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@dataclass(frozen=True)
class AnswerRules:
    """How one provider's error answers read, and which of them mean what.

    ``code_keys``/``message_keys``: the body fields holding the error code and message, the
    first non-empty one wins. ``credentials_statuses``/``credentials_codes``: answers that
    mean our credentials or token were refused. ``not_found_404``: a 404 means the provider
    has no record (``ProviderRejected("not_found")``). ``final_500_codes``: codes that make a
    500 a final refusal rather than an outage.
    """

    provider: str
    code_keys: tuple[str, ...]
    message_keys: tuple[str, ...]
    credentials_statuses: frozenset[int]
    credentials_codes: frozenset[str] = field(default_factory=frozenset)
    not_found_404: bool = False
    final_500_codes: frozenset[str] = field(default_factory=frozenset)

    def error(self, response: httpx.Response) -> tuple[str, str]:
        """``(code, message)`` of an answer; empty strings when it has none."""
        return self.error_in(json_body(response))

    def error_in(self, body: object) -> tuple[str, str]:
        """``(code, message)`` of a parsed answer body."""
        if not isinstance(body, Mapping):
            return "", ""
        code = next((body[k] for k in self.code_keys if body.get(k)), "")
        message = next((body[k] for k in self.message_keys if body.get(k)), "")
        return str(code), str(message)[:200]

    def raise_for(self, response: httpx.Response, what: str) -> NoReturn:
        """Translate an answer the caller does not accept into the port's exceptions."""
        status = response.status_code
        code, message = self.error(response)
        detail = f"{self.provider} answered {status} to {what}: {code} {message}".strip()
        if status in self.credentials_statuses or code in self.credentials_codes:
            raise ProviderUnavailable(detail + " (credentials refused)", request_sent=False)
        if status == 404 and self.not_found_404:
            raise ProviderRejected("not_found", detail)
        if status == 500 and code in self.final_500_codes:
            raise ProviderRejected(code, message or detail)
        if status >= 500 or status in _RETRYABLE_STATUSES:
            raise ProviderUnavailable(detail, request_sent=True)
        raise ProviderRejected(code or f"http_{status}", message or detail)


class ConnectionSettings(Protocol):
    """The part of a provider's settings (``MpesaConfig``, ``MomoConfig``, ``OrangeConfig``)
    that says how to talk to it."""

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def token_margin_seconds(self) -> float: ...


class ProviderHttp:
    """One provider's calls on the app's shared client, each with the configured timeout;
    ``clock`` (monotonic seconds) times its tokens."""

    def __init__(self, http: httpx.AsyncClient, rules: AnswerRules,
                 settings: ConnectionSettings, *, clock: Callable[[], float]) -> None:
        self._http = http
        self.rules = rules
        self.provider = rules.provider
        self._timeout_seconds = settings.timeout_seconds
        self._token_margin_seconds = settings.token_margin_seconds
        self._clock = clock

    async def send(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange; transport failures translated into ``ProviderUnavailable``."""
        name = self.provider
        try:
            return await self._http.request(method, url, timeout=timeout(self._timeout_seconds),
                                            **kwargs)
        except OutboundRefused as exc:
            raise ProviderUnavailable(f"{name}: outbound request refused: {exc}",
                                      request_sent=False) from None
        except _NOT_SENT as exc:
            raise ProviderUnavailable(f"{name}: cannot reach the provider for {what} "
                                      f"({type(exc).__name__})", request_sent=False) from None
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"{name}: no answer in time to {what} "
                                      f"({type(exc).__name__}); outcome unknown",
                                      request_sent=True) from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"{name}: connection failed during {what} "
                                      f"({type(exc).__name__}); outcome unknown",
                                      request_sent=True) from None

    def json_object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The answer's JSON object; ``ProviderUnavailable`` (outcome unknown) when it is not one."""
        body = json_body(response)
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{self.provider}: answer to {what} is not a JSON object "
                                      f"(HTTP {response.status_code})", request_sent=True)
        return body

    def token_cache(self, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> TokenCache:
        """A cache of the tokens ``fetch`` gets, renewed ``token_margin_seconds`` early."""
        return TokenCache(fetch, margin_seconds=self._token_margin_seconds, clock=self._clock,
                          name=self.provider, logger=log)

    async def fetch_token(self, method: str, url: str, *, user: str, secret: str,
                          default_lifetime: float, what: str = "the token request",
                          headers: Mapping[str, str] | None = None,
                          **kwargs: Any) -> tuple[str, float]:
        """A client-credentials token, ``(access_token, lifetime_seconds)``. Any failure is
        ``ProviderUnavailable(request_sent=False)``: no payment call was made."""
        response = await self.send(method, url, what=what, **kwargs,
                                   headers={"Authorization": basic_credentials(user, secret),
                                            **(headers or {})})
        if response.status_code != 200:
            code, message = self.rules.error(response)
            raise ProviderUnavailable(f"{self.provider}: {what} answered "
                                      f"{response.status_code} {code} {message}".strip(),
                                      request_sent=False)
        body = self.json_object(response, what)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderUnavailable(f"{self.provider}: token answer has no access_token",
                                      request_sent=False)
        return token, lifetime_seconds(body.get("expires_in"), default_lifetime)

    async def send_with_token(self, tokens: TokenCache, method: str, url: str, *, what: str,
                              refused: Callable[[httpx.Response], bool],
                              headers: Mapping[str, str], **kwargs: Any) -> httpx.Response:
        """A call with the cached token as Bearer, resent once with a fresh token when
        ``refused(answer)``. Returns the answer unjudged."""
        async def attempt(token: str) -> httpx.Response:
            return await self.send(method, url, what=what, **kwargs,
                                   headers={"Authorization": f"Bearer {token}", **headers})
        return await tokens.call(attempt, refused=refused)
