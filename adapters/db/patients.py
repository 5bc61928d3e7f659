"""PatientRepository on SQL: patients plus one row per identifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.compiled import FastSelect
from adapters.db.match_index import index_new_patients, index_patient
from adapters.db.organizations import ORGANIZATION_COLUMNS, organization_from_row
from adapters.db.read_connection import fetch_keys
from adapters.db.tables import OrganizationRow, PatientIdentifierRow, PatientRow
from resolvers.directory.model import Organization
from resolvers.mpi.model import Identifier, Patient, PatientQuery

P = PatientRow.__table__  # type: ignore[attr-defined]
PI = PatientIdentifierRow.__table__  # type: ignore[attr-defined]
O = OrganizationRow.__table__  # type: ignore[attr-defined]  # noqa: E741


def _by_ids(size: int) -> Select[Any]:
    """Patients with their identifiers in one statement (a row per identifier)."""
    return (select(P.c.id, P.c.family, P.c.given, P.c.birth_date, P.c.gender, P.c.phone,
                   P.c.organization_id, P.c.version, P.c.created_at, P.c.updated_at,
                   PI.c.system, PI.c.value)
            .outerjoin(PI, PI.c.patient_id == P.c.id)
            .where(P.c.id.in_([bindparam(f"k{i}") for i in range(size)]))
            .order_by(P.c.id, PI.c.position))


_BY_IDS = FastSelect(_by_ids)
_PATIENT_COLUMNS = 12  # what _by_ids selects; the managing organization's columns follow


def _by_ids_with_organizations(size: int) -> Select[Any]:
    """:func:`_by_ids` and each patient's managing organization, in the same statement."""
    return (_by_ids(size).add_columns(*O.columns)
            .outerjoin(O, O.c.id == P.c.organization_id))


_BY_IDS_WITH_ORGANIZATIONS = FastSelect(_by_ids_with_organizations)


def _row_values(patient: Patient) -> dict[str, object]:
    return {
        "id": patient.id, "family": patient.family, "given": list(patient.given),
        "birth_date": patient.birth_date, "gender": patient.gender, "phone": patient.phone,
        "organization_id": patient.organization_id, "version": patient.version,
        "created_at": patient.created_at, "updated_at": patient.updated_at,
    }


class SqlPatientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _load(self, ids: Sequence[str]) -> list[Patient]:
        if not ids:
            return []
        return self._patients(await fetch_keys(self._session, _BY_IDS, ids))

    @staticmethod
    def _patients(rows: Sequence[Sequence[Any]]) -> list[Patient]:
        identifiers: dict[str, list[Identifier]] = {}
        for r in rows:
            found = identifiers.setdefault(r[0], [])
            if r[10] is not None:
                found.append(Identifier(r[10], r[11]))
        firsts = {r[0]: r for r in rows}  # one row per identifier; the patient's columns repeat
        return [
            Patient(id=r[0], identifiers=tuple(identifiers[r[0]]), family=r[1],
                    given=tuple(r[2] or ()), birth_date=r[3], gender=r[4], phone=r[5],
                    organization_id=r[6], version=r[7], created_at=r[8], updated_at=r[9])
            for r in firsts.values()
        ]

    async def get_many(self, ids: Sequence[str]) -> dict[str, Patient]:
        return {p.id: p for p in await self._load(list(ids))}

    async def get_many_with_organizations(
            self, ids: Sequence[str]) -> tuple[dict[str, Patient], dict[str, Organization]]:
        """:meth:`get_many`, and the managing organizations of the patients found (one
        statement: a second lookup cost as much again as the patients' own)."""
        if not ids:
            return {}, {}
        rows = await fetch_keys(self._session, _BY_IDS_WITH_ORGANIZATIONS, list(ids))
        organizations = {str(r[_PATIENT_COLUMNS]): organization_from_row(
            dict(zip(ORGANIZATION_COLUMNS, r[_PATIENT_COLUMNS:], strict=True)))
            for r in rows if r[_PATIENT_COLUMNS] is not None}
        return {p.id: p for p in self._patients(rows)}, organizations

    async def find_by_identifier(self, identifier: Identifier) -> Patient | None:
        pid = (await self._session.execute(
            select(PI.c.patient_id).where(PI.c.system == identifier.system,
                                          PI.c.value == identifier.value)
        )).scalar_one_or_none()
        if pid is None:
            return None
        found = await self._load([pid])
        return found[0] if found else None

    async def owners_of(self, identifiers: Sequence[Identifier]) -> dict[Identifier, str]:
        if not identifiers:
            return {}
        # Probes of the (system, value) primary key, in one statement: systems x values
        # (a batch has few systems), the pairs nobody asked for dropped here. A row-value
        # IN would scan the table on SQLite.
        wanted = set(identifiers)
        rows = await self._session.execute(
            select(PI.c.system, PI.c.value, PI.c.patient_id)
            .where(PI.c.system.in_(sorted({i.system for i in wanted})),
                   PI.c.value.in_(sorted({i.value for i in wanted}))))
        found = {Identifier(str(r.system), str(r.value)): str(r.patient_id) for r in rows}
        return {i: pid for i, pid in found.items() if i in wanted}

    async def add_many(self, patients: Sequence[tuple[Patient, str | None]]) -> None:
        if not patients:
            return
        await self._session.execute(insert(P), [_row_values(p) for p, _a in patients])
        identifiers = [{"system": i.system, "value": i.value, "patient_id": p.id, "position": n}
                       for p, _a in patients for n, i in enumerate(p.identifiers)]
        if identifiers:
            await self._session.execute(insert(PI), identifiers)
        # Matching keys, same transaction; new patients have none to replace.
        await index_new_patients(self._session, patients)

    async def _write_identifiers(self, patient: Patient) -> None:
        if patient.identifiers:
            await self._session.execute(insert(PI), [
                {"system": i.system, "value": i.value, "patient_id": patient.id, "position": n}
                for n, i in enumerate(patient.identifiers)
            ])

    async def add(self, patient: Patient) -> None:
        await self._session.execute(insert(P).values(**_row_values(patient)))
        await self._write_identifiers(patient)
        # Matching keys, same transaction; a patient just inserted has none to replace.
        await index_patient(self._session, patient, new=True)

    async def update(self, patient: Patient, *, expected_version: int) -> bool:
        values = _row_values(patient)
        del values["id"], values["created_at"]
        result = await self._session.execute(
            update(P).where(P.c.id == patient.id, P.c.version == expected_version).values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self._session.execute(delete(PI).where(PI.c.patient_id == patient.id))
        await self._write_identifiers(patient)
        await index_patient(self._session, patient)
        return True

    async def search(self, query: PatientQuery) -> list[Patient]:
        stmt = select(P.c.id).order_by(P.c.id).limit(query.limit)
        if query.identifier is not None:
            stmt = stmt.where(P.c.id.in_(
                select(PI.c.patient_id).where(PI.c.system == query.identifier.system,
                                              PI.c.value == query.identifier.value)))
        if query.family:
            escaped = query.family.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(func.lower(P.c.family).like(escaped + "%", escape="\\"))
        if query.organization_id:
            stmt = stmt.where(P.c.organization_id == query.organization_id)
        if query.organization_ids is not None:
            stmt = stmt.where(P.c.organization_id.in_(sorted(query.organization_ids)))
        if query.after:
            stmt = stmt.where(P.c.id > query.after)
        ids = list((await self._session.execute(stmt)).scalars())
        found = await self.get_many(ids)
        return [found[i] for i in ids if i in found]
