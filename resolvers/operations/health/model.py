"""What the health report holds: readiness, outbox depth per destination, circuits,
credentials that expire, and the settings with their secrets masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from resolvers.crossborder.model import HieCircuit
from resolvers.outbox.model import DestinationDepth
from resolvers.payments.provider_health import PaymentProviderHealth


class CredentialState(StrEnum):
    OK = "ok"
    EXPIRING = "expiring"  # within the warning window
    EXPIRED = "expired"
    UNREADABLE = "unreadable"  # the file is missing or not a PEM certificate
    NO_EXPIRY = "no_expiry"  # a PASETO public key: valid until it is removed from the list


@dataclass(frozen=True)
class Credential:
    name: str  # e.g. "HIE KE client certificate", "token issuer cari-gateway"
    kind: str  # certificate | access_token | signing_key
    state: CredentialState
    expires_at: datetime | None = None
    detail: str = ""  # a file path, a key id (k4.pid...), an error


@dataclass(frozen=True)
class SettingView:
    """One setting as the console shows it: secrets masked, URLs without userinfo."""

    name: str
    value: str


@dataclass(frozen=True)
class HealthReport:
    generated_at: datetime
    ready: dict[str, str]
    destinations: list[DestinationDepth]
    circuits: list[HieCircuit]
    credentials: list[Credential]
    settings: list[SettingView] = field(default_factory=list)
    # Informative only: a failing provider never makes the gateway unready.
    payment_providers: list[PaymentProviderHealth] = field(default_factory=list)

    @property
    def is_ready(self) -> bool:
        return all(state == "ok" for state in self.ready.values())
