"""Blocking keys: which patients a lookup reads."""

from __future__ import annotations

from datetime import date

from adapters.mpi.memory import InMemoryMatchIndex
from resolvers.mpi.model import Identifier
from resolvers.mpi.scoring.blocking import identifier_key, query_keys, record_keys
from resolvers.mpi.scoring.record import build_record

GRACE = build_record(given=["Grace", "Akinyi"], family="Odhiambo", birth_date=date(1985, 4, 12),
                     gender="female", phone="+254 712 345 678", address="Plot 12, Kisumu Milimani",
                     identifiers=(Identifier("urn:ke:nid", "12345678"),))


def test_record_keys() -> None:
    keys = record_keys(GRACE)
    assert "f:ATMB:1985" in keys or any(k.startswith("f:") and k.endswith(":1985") for k in keys)
    assert sum(k.startswith("g:") for k in keys) == 2  # first two given names
    assert any(k.startswith("n:") for k in keys)
    assert "d:19850412:A" in keys
    assert "p:712345678" in keys
    assert identifier_key("urn:ke:nid", "12345678") in keys
    assert any(k.startswith("a:12:") for k in keys)  # house/plot number + place word
    assert not any("PLT" in k for k in keys)  # "plot" is a stopword
    assert all(len(k) <= 64 for k in keys)


def test_query_keys_cover_swapped_names_dates_and_unknown_years() -> None:
    swapped = build_record(given=["Odhiambo"], family="Grace", birth_date=date(1985, 12, 4))
    assert set(record_keys(GRACE)) & set(query_keys(swapped))
    no_dob = build_record(given=["Grace"], family="Odhiambo")
    assert set(record_keys(no_dob)) & set(query_keys(GRACE))


def test_index_reads_only_block_mates_and_is_bounded() -> None:
    index = InMemoryMatchIndex()
    index.put("grace", GRACE)
    index.put("other", build_record(given=["Juma"], family="Hamisi", birth_date=date(1950, 1, 1)))
    for n in range(300):  # a huge block: same family name and year
        index.put(f"o{n:03}", build_record(given=[f"x{n}"], family="Odhiambo",
                                           birth_date=date(1985, 1, 1)))
    query = build_record(given=["Grace"], family="Odhiambo", birth_date=date(1985, 4, 12))
    found = index.candidates(query, max_candidates=50)
    assert len(found) == 50
    assert found[0][0] == "grace"  # most shared keys first
    assert "other" not in {pid for pid, _ in index.candidates(query)}
    index.remove("grace")
    assert "grace" not in {pid for pid, _ in index.candidates(query, max_candidates=500)}
