"""FhirCreations: FHIR creates that arrive together are written together (GroupCommit).

A create on its own is a transaction of its own: on SQLite, its unit of work went through
the async driver's thread for every cursor, statement, fetch and close (about forty round
trips for one Observation, most of its CPU), and its turn at the one write lock. Creates
that arrive at the same moment share one transaction and its multi-row statements instead,
as lab ingest and registrations do; each caller is still answered only after the commit
that holds its resource (commit before acknowledge), and a shared transaction that fails
is retried one create at a time, so one bad create fails only its own caller.

Only what needs nothing read first goes this way: new resources with a fresh id, of a type
with no twin (a Patient goes through the MPI's registrations, an Organization through the
directory's writer), for a caller no organization scope confines, without If-None-Exist.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from resolvers.audit.model import AuditRecord
from resolvers.fhir.errors import problem
from resolvers.fhir.model import SearchRequest, StoredResource
from resolvers.fhir.ports import FhirUnitOfWorkFactory, FhirWriteUnitOfWork
from resolvers.fhir.search import parse_search
from resolvers.fhir.writer import TWINNED, MirrorConfig, indexed, mirror_messages
from resolvers.group_commit import GroupCommit


@dataclass(frozen=True)
class _Creation:
    stored: StoredResource
    audit: tuple[AuditRecord, ...]


def _no_conflicts(_job: _Creation) -> frozenset[Hashable]:
    return frozenset()  # fresh ids: no two creates touch the same row


class FhirCreations:
    """The grouped writer of new FHIR resources (a :class:`PatientRegistrar` in shape)."""

    def __init__(self, uow_factory: FhirUnitOfWorkFactory, mirror: MirrorConfig, *,
                 max_batch: int = 64, max_parallel: int = 1) -> None:
        self._uow_factory = uow_factory
        self._mirror = mirror
        self._commit: GroupCommit[_Creation, None] = GroupCommit(
            self._write, _no_conflicts, max_batch=max_batch, max_parallel=max_parallel)

    async def register(self, stored: StoredResource, audit: Sequence[AuditRecord]) -> None:
        """Store version 1 of ``stored`` (a fresh id, a type without a twin) with ``audit``
        and its outbox messages; returns once they are committed."""
        if stored.resource_type in TWINNED or stored.version != 1:
            raise ValueError(f"{stored.resource_type} version {stored.version} is not a "
                             "grouped create")
        await self._commit.submit(_Creation(stored, tuple(audit)))

    async def _write(self, jobs: Sequence[_Creation]) -> list[BaseException | None]:
        async with self._uow_factory() as uow:
            await uow.fhir.create_many([indexed(job.stored) for job in jobs])
            await uow.outbox.enqueue([m for job in jobs
                                      for m in mirror_messages(job.stored, self._mirror)])
            await uow.audit.append([r for job in jobs for r in job.audit])
            await uow.commit()
        return [None] * len(jobs)


async def conditional_match(uow: FhirWriteUnitOfWork, resource_type: str,
                            criteria: str) -> StoredResource | None:
    """The one resource an If-None-Exist condition matches, if any (a conditional create
    then answers it instead of creating); 412 when more than one does."""
    pairs = parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)
    request = parse_search(resource_type, pairs, strict=True)
    if not request.conditions:
        raise problem(400, "invalid", "If-None-Exist needs search criteria, "
                      "e.g. identifier=system|value")
    page = await uow.fhir.search(SearchRequest(resource_type, request.conditions, count=2))
    if page.total > 1:
        raise problem(412, "multiple-matches",
                      f"{page.total} resources match {criteria!r}; the condition must "
                      "match at most one")
    return page.resources[0] if page.resources else None
