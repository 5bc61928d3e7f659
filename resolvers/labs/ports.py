"""The lab capability's ports: what surfaces call, and what it needs from the world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from resolvers.labs.oru import OruMessage
from resolvers.labs.records import IngestResult, LabRepository
from resolvers.labs.view import LabResultView
from resolvers.mpi.ports import MatchingUnitOfWork, MpiUnitOfWork
from resolvers.principal import Caller, Role


class Hl7Parser(Protocol):
    def parse_oru(self, raw: bytes | str) -> OruMessage:
        """Raise resolvers.labs.oru.UnsupportedMessage / MalformedMessage."""
        ...


class LabIngestPort(Protocol):
    """The one entrance for lab messages (REST, GraphQL and the MLLP listener)."""

    async def ingest(self, caller: Caller, raw: bytes | str, *,
                     encounter_id: str | None = None,
                     roles: Sequence[Role] = (Role.LAB,)) -> IngestResult: ...


class LabUnitOfWork(MpiUnitOfWork, MatchingUnitOfWork, Protocol):
    """Lab ingest writes results, FHIR resources, provisional patients, audit and outbox in
    one transaction."""

    @property
    def labs(self) -> LabRepository: ...


LabUnitOfWorkFactory = Callable[[], LabUnitOfWork]


class LabViewDecoder(Protocol):
    """Decodes stored Observation JSON texts straight into lab views, reading only the
    elements a view shows. ``rows`` are (id, version, text, the view the store kept with
    the document or None)."""

    def __call__(self, rows: Sequence[tuple[str, int, str, str | None]]
                 ) -> list[LabResultView]: ...
