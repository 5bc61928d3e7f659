"""OAuth2 client-credentials tokens for Medplum's FHIR API.

The token endpoint is ``{base}/oauth2/token``; the request is ``grant_type=client_credentials``
with ``client_id`` and ``client_secret`` as form fields. The token is cached until shortly
before it expires; one request at a time fetches a new one. When the FHIR API refuses a
token (401), the client drops it with :meth:`TokenCache.drop` and sends the call once more
with a fresh one; a second 401 is an :class:`~adapters.medplum.errors.MedplumAuthError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from adapters.medplum.errors import (
    MedplumAuthError,
    MedplumPermanentError,
    MedplumTransientError,
    failure,
    json_object,
    send,
)

log = logging.getLogger("cari.medplum")

TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path, not a secret)
_DEFAULT_EXPIRES_IN = 300.0


@dataclass
class _Token:
    value: str
    refresh_at: float


class TokenCache:
    """The current access token of one set of client credentials at ``{base_url}``.

    ``clock`` (monotonic seconds) and ``refresh_margin_seconds`` set when a token is renewed:
    at ``expires_in`` minus the margin (at most half of the lifetime).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_margin_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._http = http
        self._url = base_url + TOKEN_PATH
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A token that is not due for renewal, fetching one when needed."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._lock:  # one fetch, however many callers are waiting
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                token = self._token = await self._fetch()
            return token.value

    def drop(self, value: str) -> None:
        """Forget the token ``value`` that Medplum refused, unless it was renewed already."""
        if self._token is not None and self._token.value == value:
            self._token = None  # others may have renewed it already

    async def _fetch(self) -> _Token:
        started = self._clock()
        response = await send(
            self._http, "POST", self._url,
            data={"grant_type": "client_credentials", "client_id": self._client_id,
                  "client_secret": self._client_secret},
            headers={"Accept": "application/json"})
        if response.status_code != 200:
            error = failure(response, "the token request")
            if isinstance(error, MedplumPermanentError):
                raise MedplumAuthError(str(error), status=response.status_code)
            raise error
        body = json_object(response, "the token request")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise MedplumTransientError("Medplum's token answer has no access_token")
        expires_in = body.get("expires_in")
        lifetime = (float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0
                    else _DEFAULT_EXPIRES_IN)
        log.debug("medplum token fetched, valid for %.0f s", lifetime)
        return _Token(value, started + lifetime - min(self._margin, lifetime / 2))
