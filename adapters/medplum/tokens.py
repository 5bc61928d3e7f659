"""OAuth2 client-credentials tokens for Medplum's FHIR API: how one is fetched.

The token endpoint is ``{base}/oauth2/token``; the request is ``grant_type=client_credentials``
with ``client_id`` and ``client_secret`` as form fields. Keeping the token (renewal before
expiry, one fetch at a time, a resend after a 401) is the shared
:class:`~adapters.http.token_cache.TokenCache`; a second 401 is an
:class:`~adapters.medplum.errors.MedplumAuthError`.
"""

from __future__ import annotations

import logging

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


async def fetch_token(http: httpx.AsyncClient, base_url: str, client_id: str,
                      client_secret: str) -> tuple[str, float]:
    """``(access_token, lifetime_seconds)`` from Medplum's token endpoint at ``base_url``."""
    response = await send(
        http, "POST", base_url + TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": client_id,
              "client_secret": client_secret},
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
    return value, lifetime
