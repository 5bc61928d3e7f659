"""The operator's health report: one call gathers what /readyz checks, the outbox depth per
destination with its last delivery, the HIEs' circuit breakers, the payment providers' last
calls and answers, credentials that expire (HIE mTLS client certificates, the MLLP server
certificate, the WhatsApp access token, the token-signing keys) and the settings with their
secrets masked.

Each part comes from where it lives (the readiness probe, the outbox store, the cross-border
lookup, the payment providers' recorder and store, the WhatsApp sender): nothing here keeps
its own state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from resolvers.authn import HealthProbe
from resolvers.clock import Clock
from resolvers.operations.health.model import (
    Credential,
    CredentialState,
    HealthReport,
    SettingView,
)
from resolvers.operations.health.ports import (
    CertificateReader,
    HieCircuits,
    PaymentProviderStates,
)
from resolvers.outbox.ports import OutboxStatistics
from resolvers.principal import Caller, Role, require_role

EXPIRY_WARNING = timedelta(days=30)
READ_ROLES = (Role.INTEGRATOR,)  # and admin


@dataclass(frozen=True)
class HealthSources:
    probe: HealthProbe
    outbox: OutboxStatistics
    hies: HieCircuits
    certificates: CertificateReader
    clock: Clock
    # (name, PEM path) of certificates besides the HIEs' (the MLLP listener's)
    certificate_files: Sequence[tuple[str, str]] = ()
    token_keys: Sequence[tuple[str, str]] = ()  # (issuer, key id) the gateway trusts
    whatsapp_token_expired: Callable[[], bool] | None = None  # None: WhatsApp is off
    settings: Sequence[SettingView] = field(default_factory=list)
    payment_providers: PaymentProviderStates | None = None  # None: not shown


class OperationsHealth:
    def __init__(self, sources: HealthSources, *,
                 expiry_warning: timedelta = EXPIRY_WARNING) -> None:
        self._sources = sources
        self._warning = expiry_warning

    async def report(self, caller: Caller) -> HealthReport:
        require_role(caller, *READ_ROLES)
        src = self._sources
        circuits = src.hies.circuits()
        files = [*((f"HIE {c.code} client certificate", c.client_cert)
                   for c in circuits if c.client_cert), *src.certificate_files]
        return HealthReport(
            generated_at=src.clock.now(), ready=await src.probe.ready(),
            destinations=await src.outbox.depth_by_destination(), circuits=circuits,
            credentials=[*(self._certificate(name, path) for name, path in files),
                         *self._whatsapp(), *self._keys()],
            settings=list(src.settings),
            payment_providers=await src.payment_providers.providers()
            if src.payment_providers is not None else [])

    def _certificate(self, name: str, path: str) -> Credential:
        try:
            expires = self._sources.certificates.not_after(path)
        except (OSError, ValueError) as exc:
            return Credential(name, "certificate", CredentialState.UNREADABLE,
                              detail=f"{path}: {type(exc).__name__}")
        now = self._sources.clock.now()
        state = (CredentialState.EXPIRED if expires <= now else CredentialState.EXPIRING
                 if expires - now <= self._warning else CredentialState.OK)
        return Credential(name, "certificate", state, expires_at=expires, detail=path)

    def _whatsapp(self) -> list[Credential]:
        expired = self._sources.whatsapp_token_expired
        if expired is None:
            return []
        return [Credential("WhatsApp Cloud API access token", "access_token",
                           CredentialState.EXPIRED if expired() else CredentialState.OK,
                           detail="CARI_WHATSAPP_ACCESS_TOKEN")]

    def _keys(self) -> list[Credential]:
        return [Credential(f"token issuer {issuer}", "signing_key", CredentialState.NO_EXPIRY,
                           detail=key_id) for issuer, key_id in self._sources.token_keys]
