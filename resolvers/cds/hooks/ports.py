"""What the CDS Hooks use cases need from the world: the interaction checker (the knowledge
base, ``resolvers/cds/knowledge/``), a reader of the EHR's FHIR server, storage of issued
cards and feedback, the JWT id ledger, and the verifier of CDS client JWTs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from resolvers.cds.hooks.model import FeedbackEntry, FhirAuthorization, IssuedCard
from resolvers.cds.model import Finding, MedicationFacts
from resolvers.principal import Principal


class MedicationChecker(Protocol):
    """The knowledge base's engine (``resolvers.cds.knowledge.checker.InteractionChecker``)."""

    def check(self, medications: Sequence[MedicationFacts], *,
              pregnant: bool = False) -> list[Finding]:
        """Findings among ``medications``, most severe first."""
        ...

    @property
    def version(self) -> str: ...


# resolvers.cds.knowledge.pregnancy.pregnancy_evidence: what in the patient's Condition and
# Observation resources says she is pregnant, or None.
PregnancyEvidence = Callable[[Iterable[Mapping[str, Any]]], str | None]


class RemoteFhir(Protocol):
    async def search(self, base_url: str, resource_type: str, query: Sequence[tuple[str, str]],
                     authorization: FhirAuthorization | None) -> list[dict[str, Any]]:
        """The resources of a search on an EHR's FHIR server (the first page), or
        ``DataUnavailable`` (address not allowed, no answer, an error status)."""
        ...


class CdsStore(Protocol):
    async def save_cards(self, cards: Sequence[IssuedCard]) -> None:
        """One transaction; a card already kept (the same hookInstance sent again) is kept."""
        ...

    async def find_cards(self, uuids: Sequence[str], now: datetime) -> dict[str, IssuedCard]:
        """The unexpired cards among ``uuids``, by uuid."""
        ...

    async def save_feedback(self, entries: Sequence[FeedbackEntry]) -> None:
        """All entries in one transaction."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Forget cards past their expiry; the number forgotten."""
        ...


class JwtIdLedger(Protocol):
    async def first_use(self, issuer: str, jti: str, expires_at: datetime,
                        now: datetime) -> bool:
        """Record (issuer, jti) until ``expires_at``; False when it was already recorded
        and has not expired (a replay). Expired entries are cleaned on the way."""
        ...


class ClientTokenVerifier(Protocol):
    async def verify(self, token: str, audiences: Sequence[str]) -> Principal:
        """A CDS client's JWT (CDS Hooks 2.0 security): signature by the key registered for
        its ``iss``, ``aud`` one of ``audiences``, unexpired, ``jti`` never seen. Raises
        ``Unauthenticated`` with the reason."""
        ...


@dataclass(frozen=True)
class CdsAdapters:
    """What the composition root builds for CDS Hooks (adapters/cds/instances.py)."""

    store: CdsStore
    remote: RemoteFhir
    client_tokens: ClientTokenVerifier
