"""Time-ordered ids (resolvers/ids.py): UUIDv7 text, strictly increasing within a process,
also when minted in batches and from several threads."""

from __future__ import annotations

import threading
import uuid

from resolvers.ids import new_id, new_ids


def test_ids_are_uuid7_text_and_strictly_increasing() -> None:
    minted = [new_id(), *new_ids(50), new_id(), *new_ids(1), *new_ids(0), *new_ids(7)]
    assert len(minted) == 60
    assert minted == sorted(minted) and len(set(minted)) == len(minted)
    for text in minted:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)


def test_threads_never_share_an_id() -> None:
    found: list[list[str]] = []

    def mint() -> None:
        mine = []
        for n in range(200):
            mine.extend(new_ids(n % 5 + 1))
        found.append(mine)

    threads = [threading.Thread(target=mint) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for mine in found for i in mine]
    assert len(set(every)) == len(every) == 4 * sum(n % 5 + 1 for n in range(200))
    assert all(mine == sorted(mine) for mine in found)
