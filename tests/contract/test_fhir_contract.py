"""FhirRepository: one suite, asserted identically on the in-memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resolvers.fhir.model import (
    Condition,
    DateBound,
    IndexEntry,
    SearchRequest,
    StoredResource,
)
from tests.contract.conftest import Backend

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _resource(rtype: str, rid: str, version: int = 1, *, minutes: int = 0,
              deleted: bool = False, **fields: Any) -> StoredResource:
    document = {} if deleted else {"resourceType": rtype, "id": rid,
                                   "meta": {"versionId": str(version)}, **fields}
    return StoredResource(resource_type=rtype, id=rid, version=version,
                          last_updated=NOW + timedelta(minutes=minutes), deleted=deleted,
                          document=document)


def _identifier(system: str, value: str) -> IndexEntry:
    return IndexEntry("identifier", system=system, value=value)


async def _create(backend: Backend, *items: tuple[StoredResource, Sequence[IndexEntry],
                                                  datetime | None]) -> None:
    async with backend.new_unit_of_work() as uow:
        await uow.fhir.create_many(items)
        await uow.commit()


async def _ids(backend: Backend, rtype: str, *conditions: Condition, **paging: Any) -> list[str]:
    async with backend.new_unit_of_work() as uow:
        page = await uow.fhir.search(SearchRequest(rtype, conditions, **paging))
        return [r.id for r in page.resources]


async def test_versions_are_compare_and_set_and_kept(backend: Backend) -> None:
    v1 = _resource("Patient", "pat-1", family="Kamau")
    v2 = _resource("Patient", "pat-1", 2, minutes=5, family="Njoroge")
    tombstone = _resource("Patient", "pat-1", 3, minutes=9, deleted=True)
    async with backend.new_unit_of_work() as uow:
        assert await uow.fhir.put(v1, [IndexEntry("family", value="kamau")], None,
                                  expected_version=None)
        assert not await uow.fhir.put(v1, [], None, expected_version=None)  # the id is taken
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert not await uow.fhir.put(v2, [], None, expected_version=2)  # stale
        assert not await uow.fhir.put(_resource("Patient", "absent", 2), [], None,
                                      expected_version=1)
        assert await uow.fhir.put(v2, [IndexEntry("family", value="njoroge")], None,
                                  expected_version=1)
        assert not await uow.fhir.put(v2, [], None, expected_version=1)
        await uow.commit()
    family = Condition("family", "string", ("kamau", "njoroge"))
    assert await _ids(backend, "Patient", family) == ["pat-1"]
    assert await _ids(backend, "Patient", Condition("family", "string", ("kamau",))) == []
    async with backend.new_unit_of_work() as uow:
        assert await uow.fhir.put(tombstone, [], None, expected_version=2)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.fhir.get_many("Patient", ["pat-1", "absent"]) == {"pat-1": tombstone}
        assert await uow.fhir.get_many("Observation", ["pat-1"]) == {}
        assert await uow.fhir.get_many("Patient", []) == {}
        assert await uow.fhir.get_version("Patient", "pat-1", 1) == v1
        assert await uow.fhir.get_version("Patient", "pat-1", 4) is None
        assert await uow.fhir.history("Patient", "pat-1") == [tombstone, v2, v1]
        assert await uow.fhir.history("Patient", "absent") == []
        # A deleted id stays taken; its tombstone is found by id only, never by search.
        assert not await uow.fhir.put(v1, [], None, expected_version=None)
        page = await uow.fhir.search(SearchRequest("Patient"))
        assert (page.resources, page.total) == ([], 0)


async def test_create_many_stores_version_one_and_refuses_a_taken_id(backend: Backend) -> None:
    items = [(_resource("Observation", f"obs-{i}", code=str(i)),
              [IndexEntry("code", system="http://loinc.org", value=str(i))], None)
             for i in range(3)]
    await _create(backend, *items)
    async with backend.new_unit_of_work() as uow:
        assert await uow.fhir.get_many("Observation", ["obs-0", "obs-2"]) == {
            "obs-0": items[0][0], "obs-2": items[2][0]}
        assert await uow.fhir.history("Observation", "obs-1") == [items[1][0]]
        await uow.fhir.create_many([])
    async with backend.new_unit_of_work() as uow:
        with pytest.raises(Exception):  # noqa: B017  (each adapter its own error type)
            await uow.fhir.create_many([(_resource("Observation", "obs-new"), [], None),
                                        items[1]])
    async with backend.new_unit_of_work() as uow:
        assert await uow.fhir.get_many("Observation", ["obs-new"]) == {}


async def test_token_reference_and_string_search(backend: Backend) -> None:
    loinc = "http://loinc.org"
    await _create(
        backend,
        (_resource("Observation", "o-1"), [
            IndexEntry("code", system=loinc, value="2823-3"),
            IndexEntry("subject", value="Patient/abc"), IndexEntry("note", value="50% higher")],
         None),
        (_resource("Observation", "o-2"), [
            IndexEntry("code", system="urn:local", value="2823-3"),
            IndexEntry("code", system="", value="x-9"),
            IndexEntry("subject", value="Patient/xabc"), IndexEntry("note", value="5 higher")],
         None),
        (_resource("Observation", "o-3"), [
            IndexEntry("code", value="2823-3"), IndexEntry("subject", value="Patient/ABC"),
            IndexEntry("note", value="a_b")], None),
        (_resource("Patient", "o-4"), [IndexEntry("code", system=loinc, value="2823-3")], None),
    )

    def token(*values: tuple[str | None, str | None]) -> Condition:
        return Condition("code", "token", values)

    assert await _ids(backend, "Observation", token((loinc, "2823-3"))) == ["o-1"]
    assert await _ids(backend, "Observation", token((None, "2823-3"))) == ["o-1", "o-2", "o-3"]
    assert await _ids(backend, "Observation", token(("", "2823-3"))) == ["o-3"]  # no system
    assert await _ids(backend, "Observation", token(("", "x-9"))) == []  # "" is a system
    assert await _ids(backend, "Observation", token(("", None))) == ["o-3"]
    assert await _ids(backend, "Observation", token((loinc, None))) == ["o-1"]
    assert await _ids(backend, "Observation", token((loinc, "x"), ("urn:local", None))) == ["o-2"]

    def subject(value: str) -> Condition:
        return Condition("subject", "reference", (value,))

    assert await _ids(backend, "Observation", subject("Patient/abc")) == ["o-1"]
    assert await _ids(backend, "Observation", subject("abc")) == ["o-1"]  # any type, same id
    assert await _ids(backend, "Observation", subject("ABC")) == ["o-3"]  # ids are exact
    assert await _ids(backend, "Observation", subject("bc")) == []

    def note(value: str, modifier: str = "") -> Condition:
        return Condition("note", "string", (value,), modifier)

    assert await _ids(backend, "Observation", note("5")) == ["o-1", "o-2"]
    assert await _ids(backend, "Observation", note("50%")) == ["o-1"]  # % is no wildcard
    assert await _ids(backend, "Observation", note("a_")) == ["o-3"]
    assert await _ids(backend, "Observation", note("ab")) == []  # _ is no wildcard
    assert await _ids(backend, "Observation", note("higher", "contains")) == ["o-1", "o-2"]
    assert await _ids(backend, "Observation", note("5 higher", "exact")) == ["o-2"]
    assert await _ids(backend, "Observation", note("5 high", "exact")) == []
    # Conditions are AND-ed, the values of one condition OR-ed.
    assert await _ids(backend, "Observation", note("5"), token((None, "2823-3")),
                      Condition("_id", "id", ("o-2", "o-3"))) == ["o-2"]


async def test_date_prefixes_over_ranges(backend: Backend) -> None:
    def day(n: int) -> datetime:
        return NOW + n * DAY

    await _create(backend, *[
        (_resource("Observation", name, minutes=minutes),
         [IndexEntry("date", date_lo=lo, date_hi=hi)], None)
        for name, lo, hi, minutes in [("day-0", day(0), day(1), 0), ("day-1", day(1), day(2), 10),
                                      ("days-0-2", day(0), day(3), 20)]])

    async def dated(prefix: str, lo: int, hi: int) -> list[str]:
        return await _ids(backend, "Observation",
                          Condition("date", "date", (DateBound(prefix, day(lo), day(hi)),)))

    assert await dated("eq", 0, 1) == ["day-0"]
    assert await dated("eq", 0, 3) == ["day-0", "day-1", "days-0-2"]
    assert await dated("ne", 0, 1) == ["day-1", "days-0-2"]
    assert await dated("gt", 0, 1) == ["day-1", "days-0-2"]
    assert await dated("lt", 1, 2) == ["day-0", "days-0-2"]
    assert await dated("ge", 1, 2) == ["day-1", "days-0-2"]
    assert await dated("le", 0, 1) == ["day-0", "days-0-2"]
    updated = Condition("_lastUpdated", "lastUpdated",
                        (DateBound("ge", NOW + timedelta(minutes=5), NOW + timedelta(minutes=6)),))
    assert await _ids(backend, "Observation", updated) == ["day-1", "days-0-2"]


async def test_paging_sorting_and_totals(backend: Backend) -> None:
    sort_dates = {"e": NOW, "a": NOW + DAY, "c": None, "b": NOW, "d": None}
    await _create(backend, *[(_resource("Encounter", rid, minutes=i), [], sort_dates[rid])
                             for i, rid in enumerate(sort_dates)])

    async def page(**request: Any) -> tuple[list[str], int]:
        async with backend.new_unit_of_work() as uow:
            found = await uow.fhir.search(SearchRequest("Encounter", **request))
            return [r.id for r in found.resources], found.total

    assert await page() == (["a", "b", "c", "d", "e"], 5)
    assert await page(count=2, offset=2) == (["c", "d"], 5)
    assert await page(count=2, offset=4) == (["e"], 5)
    assert await page(count=0) == ([], 5)
    # Missing sort values come last either way; ties follow the id.
    assert await page(sort=(("sort_date", True),)) == (["a", "b", "e", "c", "d"], 5)
    assert await page(sort=(("sort_date", False),)) == (["b", "e", "a", "c", "d"], 5)
    assert await page(sort=(("last_updated", True),), count=2) == (["d", "b"], 5)
    assert await page(sort=(("sort_date", False), ("last_updated", True))) == (
        ["b", "e", "a", "d", "c"], 5)


async def test_find_by_identifier_reads_the_indexed_identifiers(backend: Backend) -> None:
    mrn, nid = "urn:mrn", "urn:ke:nid"
    await _create(
        backend,
        (_resource("Patient", "p-1", identifier=[{"system": mrn, "value": "1"},
                                                  {"system": nid, "value": "99"}]),
         [_identifier(mrn, "1"), _identifier(nid, "99")], None),
        (_resource("Patient", "p-2", identifier=[{"system": nid, "value": "1"}]),
         [_identifier(nid, "1")], None),
        # Carried in the document but not indexed as an identifier: not found by one.
        (_resource("Patient", "p-3", identifier=[{"system": mrn, "value": "3"}]),
         [IndexEntry("name", value="3")], None),
        (_resource("Practitioner", "pr-1", identifier=[{"system": mrn, "value": "1"}]),
         [_identifier(mrn, "1")], None),
    )
    async with backend.new_unit_of_work() as uow:
        found = await uow.fhir.find_by_identifier("Patient", [(mrn, "1"), (nid, "99"),
                                                              (mrn, "3"), (mrn, "404")])
        assert {key: r.id for key, r in found.items()} == {(mrn, "1"): "p-1", (nid, "99"): "p-1"}
        assert await uow.fhir.find_by_identifier("Patient", []) == {}
        p2 = (await uow.fhir.get_many("Patient", ["p-2"]))["p-2"]
        moved = _resource("Patient", "p-2", 2, identifier=[{"system": nid, "value": "2"}])
        assert await uow.fhir.put(moved, [_identifier(nid, "2")], None, expected_version=1)
        await uow.fhir.put(_resource("Patient", "p-1", 2, deleted=True), [], None,
                           expected_version=1)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        found = await uow.fhir.find_by_identifier("Patient", [(nid, "1"), (nid, "2"), (mrn, "1")])
        assert found == {(nid, "2"): moved}  # old identifier gone, deleted resource not found
        assert p2.version == 1
