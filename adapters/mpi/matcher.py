"""SqlPatientMatcher: the PatientMatcher port on the SQL blocking index.

A lookup is one indexed read (blocking keys grouped by patient, joined to the match records
of the best-ranked ``max_candidates``) and pure scoring in process.
"""

from __future__ import annotations

import asyncio
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
from resolvers.mpi.scoring.profile import (
    SAMPLE_SIZE,
    RegisterKind,
    RegisterProfile,
    parameters_for,
    profile_is_stale,
    profile_register,
    single_link_for,
)
from resolvers.mpi.scoring.record import MatchRecord, record_from_candidate


class SqlPatientMatcher:
    """Implements :class:`resolvers.mpi.matching.PatientMatcher`.

    ``match`` opens its own short session; ``match_in`` runs inside a caller's session (a
    unit of work that matches and then writes, e.g. lab ingest).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 parameters: FsParameters | None = None, thresholds: Thresholds | None = None,
                 max_candidates: int = store.DEFAULT_MAX_CANDIDATES,
                 read_sessions: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = sessions
        # Lookups and profiling only read: on SQLite their own connections, so they neither
        # wait for nor hold the write lock (adapters/db/read_engine.py).
        self._reads = read_sessions or sessions
        self._scorer = MatchScorer(parameters or default_parameters(), thresholds,
                                   single_link=single_link_for(RegisterKind.UNKNOWN))
        self._max_candidates = max_candidates
        self._given = parameters is not None
        self._fixed = self._given  # given, or stored by an operator: kept as is
        self.profile: RegisterProfile | None = None

    @property
    def parameters(self) -> FsParameters:
        return self._scorer.parameters

    @property
    def uses_operator_parameters(self) -> bool:
        return self._fixed

    def use_parameters(self, parameters: FsParameters) -> None:
        self._scorer = MatchScorer(parameters, self._scorer.thresholds,
                                   single_link=self._scorer.single_link)

    async def load_parameters(self) -> FsParameters:
        """Switch to the parameters an operator stored; without any, to the defaults for
        the register's kind (its last profile; households until one is taken)."""
        async with self._reads() as session:
            stored = await store.stored_parameters(session)
            profile = await store.load_profile(session)
        self._fixed = self._given or stored is not None
        self._adopt(profile)
        if stored is not None and not self._given:
            self.use_parameters(stored)
        return self.parameters

    def _adopt(self, profile: RegisterProfile | None) -> None:
        self.profile = profile
        kind = profile.kind if profile else RegisterKind.UNKNOWN
        # The link policy follows the register's kind, whoever chose the parameters.
        self._scorer = MatchScorer(self._scorer.parameters if self._fixed
                                   else parameters_for(kind), self._scorer.thresholds,
                                   single_link=single_link_for(kind))

    async def refresh_profile(self, *, sample_size: int = SAMPLE_SIZE) -> RegisterProfile:
        """Profile the register now (a random sample, each looked up as a match would be),
        store the profile for the other gateway processes, and match by it."""
        samples: list[tuple[str, MatchRecord, list[tuple[str, MatchRecord]]]] = []
        async with self._reads() as session:
            size = await store.register_size(session)
            ids = await store.sample_patient_ids(session, sample_size)
            records = await store.load_records(session, ids)
            for pid, record in records.items():
                samples.append((pid, record, await store.candidates(
                    session, record, max_candidates=self._max_candidates + 1)))
                await asyncio.sleep(0)  # reads may run on the loop: let requests through
        profile = profile_register(samples, register_size=size)
        async with self._sessions() as session:
            await store.save_profile(session, profile)
            await session.commit()
        self._adopt(profile)
        return profile

    async def refresh_profile_if_stale(self) -> RegisterProfile | None:
        """Adopt a fresh profile another process stored, or take one when the register has
        changed size by more than a fifth since the last."""
        async with self._reads() as session:
            size = await store.register_size(session)
            stored = await store.load_profile(session)
        if stored is not None and not profile_is_stale(stored, size):
            if stored != self.profile:
                self._adopt(stored)
            return stored
        if size == 0:
            return self.profile
        return await self.refresh_profile()

    async def match(self, candidate: MatchCandidate, *, limit: int = 5) -> Sequence[Match]:
        async with self._reads() as session:
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
