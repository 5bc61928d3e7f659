"""Where the authorization server lives and how long its grants last; the discovery
document (/.well-known/smart-configuration) built from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from resolvers.smart.scopes import SCOPES_SUPPORTED

BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class SmartConfig:
    base_url: str  # the gateway's public base URL, e.g. https://gw.example
    launch_seconds: int = 300
    code_seconds: int = 60
    access_token_seconds: int = 3600
    refresh_token_seconds: int = 30 * 24 * 3600
    online_refresh_seconds: int = 8 * 3600
    assertion_max_seconds: int = 300

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/api/fhir"

    def endpoint(self, name: str) -> str:
        return f"{self.base_url}/api/smart/{name}"


def digest(value: str) -> str:
    """The key a grant is stored under: its value is never kept."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def discovery(config: SmartConfig) -> dict[str, Any]:
    return {
        "issuer": config.base_url,
        "jwks_uri": f"{config.base_url}/.well-known/jwks.json",
        "authorization_endpoint": config.endpoint("authorize"),
        "token_endpoint": config.endpoint("token"),
        "introspection_endpoint": config.endpoint("introspect"),
        "revocation_endpoint": config.endpoint("revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic",
                                                  "client_secret_post", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "id_token_signing_alg_values_supported": ["ES384"],
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
            "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
            "context-standalone-patient", "permission-offline", "permission-online",
            "permission-patient", "permission-user", "permission-v1", "permission-v2",
            "sso-openid-connect", "authorize-post",
        ],
    }
