"""SMART on FHIR's use cases, built once by the composition root from its adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.audit.trail import AuditTrail
from resolvers.authn import Authenticator
from resolvers.clock import Clock
from resolvers.smart.authorize import Authorizer
from resolvers.smart.config import SmartConfig, discovery
from resolvers.smart.ports import AccessTokenMinter, ClientAssertions, IdTokenSigner, SmartStore
from resolvers.smart.registry import SmartApps
from resolvers.smart.tokens import TokenService


@dataclass(frozen=True)
class SmartServices:
    config: SmartConfig
    apps: SmartApps
    authorizer: Authorizer
    tokens: TokenService
    id_tokens: IdTokenSigner

    def discovery(self) -> dict[str, Any]:
        return discovery(self.config)

    def jwks(self) -> dict[str, Any]:
        return self.id_tokens.jwks()


def build_smart_services(store: SmartStore, clock: Clock, config: SmartConfig,
                         audit: AuditTrail, minter: AccessTokenMinter,
                         id_tokens: IdTokenSigner, assertions: ClientAssertions,
                         authenticator: Authenticator) -> SmartServices:
    return SmartServices(
        config=config, apps=SmartApps(store, clock, config, audit),
        authorizer=Authorizer(store, clock, config),
        tokens=TokenService(store, clock, config, minter, id_tokens, assertions,
                            authenticator),
        id_tokens=id_tokens)
