"""In-memory blocking index and matcher: the fake of the SQL matcher, and the engine the
FEBRL evaluation and EM training run on (same keys, same scorer, no database)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence

from resolvers.mpi.matching import Match, MatchCandidate
from resolvers.mpi.scoring.blocking import MAX_CANDIDATES, query_keys, record_keys
from resolvers.mpi.scoring.engine import MatchScorer
from resolvers.mpi.scoring.profile import SAMPLE_SIZE, RegisterProfile, profile_register
from resolvers.mpi.scoring.record import MatchRecord, record_from_candidate

DEFAULT_MAX_CANDIDATES = MAX_CANDIDATES


class InMemoryMatchIndex:
    def __init__(self) -> None:
        self.records: dict[str, MatchRecord] = {}
        self._blocks: dict[str, set[str]] = {}
        self._keys: dict[str, list[str]] = {}

    def put(self, patient_id: str, record: MatchRecord) -> None:
        self.remove(patient_id)
        keys = record_keys(record)
        self.records[patient_id] = record
        self._keys[patient_id] = keys
        for key in keys:
            self._blocks.setdefault(key, set()).add(patient_id)

    def remove(self, patient_id: str) -> None:
        for key in self._keys.pop(patient_id, ()):
            block = self._blocks.get(key)
            if block is not None:
                block.discard(patient_id)
                if not block:
                    del self._blocks[key]
        self.records.pop(patient_id, None)

    def candidates(self, record: MatchRecord, *, max_candidates: int = DEFAULT_MAX_CANDIDATES,
                   exclude: str | None = None) -> list[tuple[str, MatchRecord]]:
        hits: Counter[str] = Counter()
        for key in query_keys(record):
            hits.update(self._blocks.get(key, ()))
        hits.pop(exclude or "", None)
        ranked = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:max_candidates]
        return [(pid, self.records[pid]) for pid, _ in ranked]

    def candidate_pairs(self, patient_ids: Iterable[str] | None = None, *,
                        max_candidates: int = DEFAULT_MAX_CANDIDATES,
                        ) -> list[tuple[MatchRecord, MatchRecord]]:
        """Distinct blocked pairs (for EM): each record against its block-mates."""
        seen: set[tuple[str, str]] = set()
        pairs: list[tuple[MatchRecord, MatchRecord]] = []
        for pid in patient_ids if patient_ids is not None else list(self.records):
            record = self.records[pid]
            for other, other_record in self.candidates(record, max_candidates=max_candidates,
                                                       exclude=pid):
                pair = (pid, other) if pid < other else (other, pid)
                if pair not in seen:
                    seen.add(pair)
                    pairs.append((record, other_record))
        return pairs

    def profile(self, sample_size: int = SAMPLE_SIZE, seed: int = 0) -> RegisterProfile:
        """The register's profile from a random sample, as the SQL matcher takes it."""
        ids = sorted(self.records)
        sample = random.Random(seed).sample(ids, min(sample_size, len(ids)))
        return profile_register(((pid, self.records[pid], self.candidates(self.records[pid]))
                                 for pid in sample), register_size=len(ids))


class InMemoryPatientMatcher:
    """PatientMatcher over an :class:`InMemoryMatchIndex`."""

    def __init__(self, index: InMemoryMatchIndex, scorer: MatchScorer, *,
                 max_candidates: int = DEFAULT_MAX_CANDIDATES) -> None:
        self.index = index
        self.scorer = scorer
        self.max_candidates = max_candidates

    def match_record(self, record: MatchRecord, *, limit: int = 5,
                     trusted_systems: frozenset[str] = frozenset(),
                     exclude: str | None = None) -> list[Match]:
        stored = self.index.candidates(record, max_candidates=self.max_candidates,
                                       exclude=exclude)
        return self.scorer.rank(record, stored, trusted_systems=trusted_systems, limit=limit)

    async def match(self, candidate: MatchCandidate, *, limit: int = 5) -> Sequence[Match]:
        return self.match_record(record_from_candidate(candidate), limit=limit,
                                 trusted_systems=candidate.trusted_identifier_systems)

    async def match_within(self, uow: object, candidate: MatchCandidate, *,
                           limit: int = 5) -> Sequence[Match]:
        return await self.match(candidate, limit=limit)  # no transaction to join in memory
