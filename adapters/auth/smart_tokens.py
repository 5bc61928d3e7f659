"""SMART access tokens: the gateway's own v4.public tokens with a ``smart`` claim and a jti,
signed by the local key the FHIR routes' verifier trusts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.auth.tokens import TokenIssuer


class SmartAccessTokens:
    def __init__(self, issuer: TokenIssuer) -> None:
        self._issuer = issuer

    def mint(self, subject: str, roles: Sequence[str], scopes: Sequence[str], ttl_seconds: int,
             smart: dict[str, Any], jti: str, organization: str | None = None) -> str:
        return self._issuer.issue(subject, roles, scopes, ttl_seconds=ttl_seconds,
                                  organization=organization, extra={"smart": smart, "jti": jti})
