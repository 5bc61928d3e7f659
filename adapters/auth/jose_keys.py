"""SMART on FHIR's JOSE side: the ES384 key that signs id_tokens (published as a JWKS) and
the check of backend services' client assertions (private_key_jwt, RS384 or ES384).

The id_token key is kept under the data dir like the PASETO key: created on first start,
readable only by its owner. A JWKS URL is fetched through the guarded outbound client.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from adapters.http.outbound import OutboundRefused
from resolvers.smart.model import OAuthError

ID_TOKEN_KEY_FILE = "smart-id-token-key.jwk"  # noqa: S105 (a file name)
ID_TOKEN_ALG = "ES384"  # noqa: S105 (an algorithm name)
ASSERTION_ALGS = ["RS384", "ES384"]
MAX_JWKS_BYTES = 65_536


def load_or_create_id_token_key(data_dir: Path) -> ECKey:
    path = data_dir / ID_TOKEN_KEY_FILE
    if path.exists():
        key = ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))
        if not key.is_private:
            raise ValueError(f"{path} does not hold a private EC key")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-384", private=True)
    try:  # O_EXCL: two processes starting at once must not both write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_id_token_key(data_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(key.as_dict(private=True)))
    return key


class IdTokenSigner:
    """Signs id_tokens (ES384) and publishes the public key as a JWKS."""

    def __init__(self, key: ECKey) -> None:
        self._key = key
        self._kid = key.thumbprint()

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": ID_TOKEN_ALG, "kid": self._kid}, claims, self._key,
                          algorithms=[ID_TOKEN_ALG])

    def jwks(self) -> dict[str, Any]:
        public = {**self._key.as_dict(private=False), "kid": self._kid, "use": "sig",
                  "alg": ID_TOKEN_ALG}
        return {"keys": [public]}


class ClientAssertionVerifier:
    """The signature of a client assertion against the app's registered keys: an inline
    JWKS, else its JWKS URL (fetched through the allow-listed client)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def verify(self, assertion: str, jwks: dict[str, Any] | None,
                     jwks_url: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        keys = jwks if jwks is not None else await self._fetch(jwks_url)
        try:
            key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
            token = jwt.decode(assertion, key_set, algorithms=ASSERTION_ALGS)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OAuthError("invalid_client", "the client assertion's signature does not "
                             f"verify with the app's registered keys ({type(exc).__name__})",
                             401) from None
        return dict(token.header), dict(token.claims)

    async def _fetch(self, url: str | None) -> dict[str, Any]:
        if not url:
            raise OAuthError("invalid_client", "the app has no JWKS registered", 401)
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
        except (httpx.HTTPError, OutboundRefused) as exc:  # the guard refused, or no answer
            raise OAuthError("invalid_client", f"the app's JWKS URL could not be read "
                             f"({type(exc).__name__})", 401) from None
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            raise OAuthError("invalid_client", "the app's JWKS URL answered "
                             f"{response.status_code}", 401)
        try:
            found = response.json()
        except ValueError:
            raise OAuthError("invalid_client", "the app's JWKS URL did not answer JSON",
                             401) from None
        if not isinstance(found, dict):
            raise OAuthError("invalid_client", "the app's JWKS is not a JSON object", 401)
        return found
