"""GroupCommit: shared transactions for concurrent jobs, conflicts kept apart, errors isolated."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence

import pytest

from resolvers.group_commit import GroupCommit


class Recorder:
    """A batch writer that records each batch and can fail on a poisoned job."""

    def __init__(self, delay: float = 0.01) -> None:
        self.batches: list[list[str]] = []
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0

    async def write(self, jobs: Sequence[str]) -> list[str | BaseException]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.batches.append(list(jobs))
            await asyncio.sleep(self.delay)
            if "poison" in jobs:  # a failure that aborts the whole shared transaction
                raise RuntimeError("constraint violated")
            return [ValueError("bad job") if job == "invalid" else job.upper() for job in jobs]
        finally:
            self.in_flight -= 1


def keys(job: str) -> frozenset[Hashable]:
    return frozenset({job.split(":")[0]})


async def test_an_idle_writer_writes_a_job_at_once_and_alone() -> None:
    rec = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys)
    assert await commit.submit("a") == "A"
    assert rec.batches == [["a"]]


async def test_jobs_arriving_during_a_write_share_the_next_transaction() -> None:
    rec = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys)
    results = await asyncio.gather(*(commit.submit(f"j{i}") for i in range(20)))
    assert results == [f"J{i}" for i in range(20)]
    # The first job finds the writer idle; the other 19 queue behind it and go together.
    assert [len(b) for b in rec.batches] == [1, 19]


async def test_batches_are_capped() -> None:
    rec = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys, max_batch=5)
    await asyncio.gather(*(commit.submit(f"j{i}") for i in range(16)))
    assert max(len(b) for b in rec.batches) == 5 and sum(map(len, rec.batches)) == 16


async def test_conflicting_jobs_never_share_or_overlap_a_transaction() -> None:
    rec = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys, max_parallel=3)
    jobs = ["k1:original", "k2:x", "k1:correction", "k3:y", "k1:again"]
    assert await asyncio.gather(*(commit.submit(j) for j in jobs)) == [j.upper() for j in jobs]
    for batch in rec.batches:
        assert len({j.split(":")[0] for j in batch}) == len(batch)
    order = [j for b in rec.batches for j in b if j.startswith("k1:")]
    assert order == ["k1:original", "k1:correction", "k1:again"]  # arrival order kept


async def test_parallel_transactions_are_bounded() -> None:
    rec = Recorder(delay=0.02)
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys, max_batch=2, max_parallel=2)
    await asyncio.gather(*(commit.submit(f"j{i}") for i in range(12)))
    assert rec.max_in_flight == 2


async def test_a_failed_shared_transaction_retries_each_job_alone() -> None:
    rec = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys)
    first = asyncio.ensure_future(commit.submit("warm"))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(commit.submit(j)) for j in ("a", "poison", "b")]
    assert await first == "WARM"
    outcomes = await asyncio.gather(*others, return_exceptions=True)
    assert outcomes[0] == "A" and outcomes[2] == "B"
    assert isinstance(outcomes[1], RuntimeError)
    assert ["a", "poison", "b"] in rec.batches and ["a"] in rec.batches and ["b"] in rec.batches


async def test_a_job_level_error_reaches_only_its_caller() -> None:
    rec = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys)
    outcomes = await asyncio.gather(*(commit.submit(j) for j in ("x", "invalid", "y")),
                                    return_exceptions=True)
    assert outcomes[0] == "X" and outcomes[2] == "Y" and isinstance(outcomes[1], ValueError)


async def test_a_caller_that_goes_away_does_not_cancel_the_write() -> None:
    rec = Recorder(delay=0.05)
    commit: GroupCommit[str, str] = GroupCommit(rec.write, keys)
    task = asyncio.ensure_future(commit.submit("kept"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.08)
    assert rec.batches == [["kept"]]  # written (and committed) all the same
