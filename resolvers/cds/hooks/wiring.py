"""CDS Hooks' use cases, built once by the composition root from its adapters, and the
authentication of a CDS caller (the platform's PASETO, or a CDS client's JWT)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from resolvers.audit.trail import AuditTrail
from resolvers.authn import Authenticator
from resolvers.cds.hooks.feedback import CdsFeedback
from resolvers.cds.hooks.invoke import CdsHooks
from resolvers.cds.hooks.model import CdsConfig
from resolvers.cds.hooks.patient_data import PatientData
from resolvers.cds.hooks.ports import (
    CdsAdapters,
    ClientTokenVerifier,
    MedicationChecker,
    PregnancyEvidence,
)
from resolvers.cds.knowledge.checker import InteractionChecker
from resolvers.cds.knowledge.pregnancy import pregnancy_evidence
from resolvers.errors import Forbidden, Unauthenticated
from resolvers.fhir.service import FhirUseCases
from resolvers.principal import Principal

PASETO_PREFIX = "v4.public."


@dataclass(frozen=True)
class CdsServices:
    hooks: CdsHooks
    feedback: CdsFeedback
    platform_tokens: Authenticator
    client_tokens: ClientTokenVerifier

    async def authenticate(self, header: str, audiences: Sequence[str]) -> Principal:
        """The caller of a CDS call: a PASETO (``v4.public.``) is the platform's own token;
        anything else shaped like a JWT is a CDS client's, checked for ``audiences``."""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            raise Unauthenticated("an Authorization: Bearer token is required (a PASETO "
                                  "v4.public token or a CDS client JWT)")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        if token.startswith(PASETO_PREFIX):
            principal = self.platform_tokens.verify(token)
            if principal.smart is not None:  # as the router rules for every other route
                raise Forbidden("a SMART app's access token is accepted by the FHIR API "
                                "(/api/fhir) only")
            return principal
        if token.count(".") != 2:
            raise Unauthenticated("the bearer token is neither a PASETO v4.public token nor "
                                  "a JWT")
        return await self.client_tokens.verify(token, audiences)


def build_cds_services(adapters: CdsAdapters, config: CdsConfig,
                       checker: MedicationChecker | None, fhir: FhirUseCases,
                       audit: AuditTrail, now: Callable[[], datetime],
                       platform_tokens: Authenticator, *, max_parallel: int = 1,
                       pregnancy: PregnancyEvidence = pregnancy_evidence) -> CdsServices:
    """``checker`` None: the shipped knowledge base, loaded and indexed once, here, at start
    (a test may give its own checker)."""
    if checker is None:
        checker = InteractionChecker.from_data()
    hooks = CdsHooks(checker, pregnancy, PatientData(fhir, adapters.remote), adapters.store,
                     audit, now, config, max_parallel=max_parallel)
    return CdsServices(
        hooks=hooks, feedback=CdsFeedback(adapters.store, audit, now, hooks.settled),
        platform_tokens=platform_tokens, client_tokens=adapters.client_tokens)

