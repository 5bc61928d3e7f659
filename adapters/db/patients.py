"""PatientRepository on SQL: patients plus one row per identifier."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.match_index import index_new_patients, index_patient
from adapters.db.tables import PatientIdentifierRow, PatientRow
from resolvers.mpi.model import Identifier, Patient, PatientQuery

P = PatientRow.__table__  # type: ignore[attr-defined]
PI = PatientIdentifierRow.__table__  # type: ignore[attr-defined]


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
        rows = (await self._session.execute(select(P).where(P.c.id.in_(ids)))).mappings().all()
        idents = (
            await self._session.execute(
                select(PI).where(PI.c.patient_id.in_([r["id"] for r in rows]))
                .order_by(PI.c.patient_id, PI.c.position)
            )
        ).mappings().all() if rows else []
        by_patient: dict[str, list[Identifier]] = {}
        for i in idents:
            by_patient.setdefault(i["patient_id"], []).append(Identifier(i["system"], i["value"]))
        return [
            Patient(
                id=r["id"], identifiers=tuple(by_patient.get(r["id"], ())), family=r["family"],
                given=tuple(r["given"] or ()), birth_date=r["birth_date"], gender=r["gender"],
                phone=r["phone"], organization_id=r["organization_id"], version=r["version"],
                created_at=r["created_at"], updated_at=r["updated_at"],
            )
            for r in rows
        ]

    async def get_many(self, ids: Sequence[str]) -> dict[str, Patient]:
        return {p.id: p for p in await self._load(list(ids))}

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
