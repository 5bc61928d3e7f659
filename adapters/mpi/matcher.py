"""SqlPatientMatcher: the PatientMatcher port on the SQL blocking index.

A lookup is one indexed read (blocking keys grouped by patient, joined to the match records
of the best-ranked ``max_candidates``) and pure scoring in process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db import match_index as store
from resolvers.mpi.matching import Match, MatchCandidate
from resolvers.mpi.ports import MatchIndex, MatchingUnitOfWork
from resolvers.mpi.scoring.comparators import compare
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.engine import MatchScorer, Thresholds
from resolvers.mpi.scoring.fellegi_sunter import EmResult, FsParameters, estimate
from resolvers.mpi.scoring.record import MatchRecord, record_from_candidate


class SqlPatientMatcher:
    """Implements :class:`resolvers.mpi.matching.PatientMatcher`.

    ``match`` opens its own short session; ``match_in`` runs inside a caller's session (a
    unit of work that matches and then writes, e.g. lab ingest).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 parameters: FsParameters | None = None, thresholds: Thresholds | None = None,
                 max_candidates: int = store.DEFAULT_MAX_CANDIDATES) -> None:
        self._sessions = sessions
        self._scorer = MatchScorer(parameters or default_parameters(), thresholds)
        self._max_candidates = max_candidates

    @property
    def parameters(self) -> FsParameters:
        return self._scorer.parameters

    def use_parameters(self, parameters: FsParameters) -> None:
        self._scorer = MatchScorer(parameters, self._scorer.thresholds)

    async def load_parameters(self) -> FsParameters:
        """Switch to the parameters stored in the database (defaults if none)."""
        async with self._sessions() as session:
            parameters = await store.load_parameters(session)
        self.use_parameters(parameters)
        return parameters

    async def match(self, candidate: MatchCandidate, *, limit: int = 5) -> Sequence[Match]:
        async with self._sessions() as session:
            return await self.match_in(session, candidate, limit=limit)

    async def match_within(self, uow: MatchingUnitOfWork, candidate: MatchCandidate, *,
                           limit: int = 5) -> list[Match]:
        """Inside the caller's unit of work: its match index, in its transaction."""
        return await self._rank(uow.match_index, candidate, limit)

    async def match_in(self, session: AsyncSession, candidate: MatchCandidate, *,
                       limit: int = 5) -> list[Match]:
        return await self._rank(store.SqlMatchIndex(session), candidate, limit)

    async def _rank(self, index: MatchIndex, candidate: MatchCandidate,
                    limit: int) -> list[Match]:
        record = record_from_candidate(candidate)
        stored = await index.candidates(record, max_candidates=self._max_candidates)
        return self._scorer.rank(record, stored, trusted_systems=candidate.trusted_identifier_systems,
                                 limit=limit)


@dataclass(frozen=True)
class Reestimate:
    result: EmResult
    sampled: int
    pairs: int


async def reestimate(session: AsyncSession, *, sample_size: int = 2000,
                     start: FsParameters | None = None,
                     max_candidates: int = 50, save: bool = False,
                     full: bool = False) -> Reestimate:
    """Re-estimate the model by EM from the live index.

    By default only u is re-estimated (m and p kept from ``start``): a live register is mostly
    de-duplicated, so its blocked pairs say how often strangers agree, and too little about
    matches (see ``estimate(fix_m=...)``). ``full=True`` estimates m, u and p, for a register
    known to hold many duplicates (an import before de-duplication).

    A random sample of indexed patients is looked up exactly as a match would (same blocking),
    every blocked pair is compared, and EM runs over the agreement vectors, starting from
    ``start`` (default: the stored parameters). With ``save`` the result is stored and used by
    matchers that call :meth:`SqlPatientMatcher.load_parameters`. Inspect ``result.converged``
    and the m/u values before trusting a model trained on a register with few duplicates.
    """
    start = start or await store.load_parameters(session)
    ids = await store.sample_patient_ids(session, sample_size)
    records = await store.load_records(session, ids)
    seen: set[tuple[str, str]] = set()
    vectors: list[tuple[int, ...]] = []
    for pid in ids:
        record: MatchRecord | None = records.get(pid)
        if record is None:
            continue
        for other, other_record in await store.candidates(session, record,
                                                          max_candidates=max_candidates + 1):
            if other == pid:
                continue
            pair = (pid, other) if pid < other else (other, pid)
            if pair in seen:
                continue
            seen.add(pair)
            vectors.append(compare(record, other_record).levels)
    if not vectors:
        raise ValueError("no candidate pairs in the index: nothing to estimate from")
    result = estimate(vectors, start=start, fix_m=not full,
                      trained_on=f"live index sample of {len(ids)} ({'m, u, p' if full else 'u'})")
    if save:
        await store.save_parameters(session, result.parameters)
    return Reestimate(result, len(ids), len(vectors))
