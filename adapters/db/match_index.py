"""The MPI match index on SQL: match records, blocking keys and model parameters.

Everything here takes the caller's ``AsyncSession``, so indexing a patient commits or rolls
back with the patient row itself (call :func:`index_patient` in the same unit of work).
:class:`SqlMatchIndex` is the unit of work's typed view of it (``uow.match_index``), what
the matcher reads inside a caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.tables import (
    FhirResourceRow,
    MpiBlockingKeyRow,
    MpiMatchParametersRow,
    MpiMatchRecordRow,
)
from resolvers.mpi.model import Patient
from resolvers.mpi.scoring.blocking import MAX_CANDIDATES, query_keys, record_keys
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.fellegi_sunter import FsParameters
from resolvers.mpi.scoring.profile import RegisterProfile
from resolvers.mpi.scoring.record import MatchRecord, fhir_address_text, record_from_patient

R = MpiMatchRecordRow.__table__  # type: ignore[attr-defined]
K = MpiBlockingKeyRow.__table__  # type: ignore[attr-defined]
PARAMS = MpiMatchParametersRow.__table__  # type: ignore[attr-defined]
FHIR = FhirResourceRow.__table__  # type: ignore[attr-defined]

DEFAULT_MAX_CANDIDATES = MAX_CANDIDATES
CHUNK = 2000  # rows per multi-row INSERT (well under SQLite's and asyncpg's parameter caps)
PARAMETERS_NAME = "default"
PROFILE_NAME = "register-profile"


def index_rows(patient_id: str, record: MatchRecord,
               ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The rows that index one patient: its match record and its blocking keys."""
    return ({"patient_id": patient_id, "record": record.to_json()},
            [{"key": key, "patient_id": patient_id} for key in record_keys(record)])


def _chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def index_record(session: AsyncSession, patient_id: str, record: MatchRecord, *,
                       new: bool = False) -> None:
    """(Re-)index one patient: old keys out, new keys in; same transaction as the caller.
    ``new``: the patient was inserted in this transaction, so it has no keys to take out
    (two statements fewer on the registration path)."""
    if not new:
        await remove_patient(session, patient_id)
    record_row, key_rows = index_rows(patient_id, record)
    await session.execute(insert(R), [record_row])
    if key_rows:
        await session.execute(insert(K), key_rows)


async def _stored_address(session: AsyncSession, patient_id: str) -> str | None:
    """The address of the patient's FHIR document. The MPI row has no address column, and the
    FHIR writer stores the document before it syncs the MPI row, in the same transaction."""
    document = (await session.execute(
        select(FHIR.c.document).where(FHIR.c.resource_type == "Patient",
                                      FHIR.c.id == patient_id))).scalar_one_or_none()
    return fhir_address_text(document) if isinstance(document, dict) else None


async def index_patient(session: AsyncSession, patient: Patient, *,
                        address: str | None = None, new: bool = False) -> None:
    """Call after adding or updating ``patient`` (SqlPatientRepository.add / update).

    Without ``address``, the address is read from the patient's FHIR document."""
    if address is None:
        address = await _stored_address(session, patient.id)
    await index_record(session, patient.id, record_from_patient(patient, address=address),
                       new=new)


async def remove_patient(session: AsyncSession, patient_id: str) -> None:
    await session.execute(delete(K).where(K.c.patient_id == patient_id))
    await session.execute(delete(R).where(R.c.patient_id == patient_id))


async def bulk_index(session: AsyncSession, items: Iterable[tuple[str, MatchRecord]]) -> int:
    """Index many patients that are not indexed yet (backfill, imports): multi-row inserts."""
    records: list[dict[str, Any]] = []
    keys: list[dict[str, str]] = []
    count = 0
    for patient_id, record in items:
        record_row, key_rows = index_rows(patient_id, record)
        records.append(record_row)
        keys.extend(key_rows)
        count += 1
        if len(keys) >= 10 * CHUNK:
            await _flush(session, records, keys)
            records, keys = [], []
    await _flush(session, records, keys)
    return count


async def index_new_patients(session: AsyncSession,
                             patients: Iterable[tuple[Patient, str | None]]) -> int:
    """Index patients inserted in this transaction, each with its address (the grouped
    registration): multi-row inserts, nothing to take out first."""
    return await bulk_index(session, ((p.id, record_from_patient(p, address=address))
                                      for p, address in patients))


async def _flush(session: AsyncSession, records: list[dict[str, Any]],
                 keys: list[dict[str, str]]) -> None:
    for chunk in _chunks(records):
        await session.execute(insert(R), list(chunk))
    for chunk in _chunks(keys):
        await session.execute(insert(K), list(chunk))


async def candidates(session: AsyncSession, record: MatchRecord, *,
                     max_candidates: int = DEFAULT_MAX_CANDIDATES,
                     ) -> list[tuple[str, MatchRecord]]:
    """Patients sharing a blocking key with ``record``, most shared keys first (bounded).

    One statement: the ranking (on the covering primary key of the blocking keys) and the
    match records of the ranked patients, so a lookup is one round trip."""
    keys = query_keys(record)
    if not keys:
        return []
    rows = (await session.execute(_CANDIDATES, {"keys": list(keys),
                                                "max_candidates": max_candidates})).all()
    return [(row[0], MatchRecord.from_json(row[1])) for row in rows]


def _candidates_statement() -> Any:
    # Built once (a lab message's match and every registration run it): building the select
    # and its cache key per call cost more than running it.
    hits = func.count().label("hits")
    ranked = (select(K.c.patient_id, hits).where(K.c.key.in_(bindparam("keys", expanding=True)))
              .group_by(K.c.patient_id).order_by(hits.desc(), K.c.patient_id)
              .limit(bindparam("max_candidates", type_=Integer)).subquery())
    return (select(ranked.c.patient_id, R.c.record)
            .join(R, R.c.patient_id == ranked.c.patient_id)
            .order_by(ranked.c.hits.desc(), ranked.c.patient_id))


_CANDIDATES = _candidates_statement()


async def load_records(session: AsyncSession, patient_ids: Sequence[str]) -> dict[str, MatchRecord]:
    if not patient_ids:
        return {}
    rows = (await session.execute(select(R.c.patient_id, R.c.record)
                                  .where(R.c.patient_id.in_(list(patient_ids))))).all()
    return {row[0]: MatchRecord.from_json(row[1]) for row in rows}


async def sample_patient_ids(session: AsyncSession, size: int) -> list[str]:
    """A random sample of indexed patients (for re-estimating the model)."""
    rows = await session.execute(select(R.c.patient_id).order_by(func.random()).limit(size))
    return [str(r) for r in rows.scalars()]


async def register_size(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(R))).scalar_one())


async def _document(session: AsyncSession, name: str) -> dict[str, Any] | None:
    document = (await session.execute(
        select(PARAMS.c.document).where(PARAMS.c.name == name))).scalar_one_or_none()
    return document if isinstance(document, dict) and document else None


async def stored_parameters(session: AsyncSession,
                            name: str = PARAMETERS_NAME) -> FsParameters | None:
    """The parameters an operator stored, if any."""
    document = await _document(session, name)
    return FsParameters.from_dict(document) if document else None


async def load_parameters(session: AsyncSession, name: str = PARAMETERS_NAME) -> FsParameters:
    """The stored parameters, or the defaults (resolvers/mpi/scoring/defaults.py) when none."""
    return await stored_parameters(session, name) or default_parameters()


async def load_profile(session: AsyncSession) -> RegisterProfile | None:
    """The register profile last taken (by any gateway process), if any."""
    document = await _document(session, PROFILE_NAME)
    return RegisterProfile.from_dict(document) if document else None


async def save_profile(session: AsyncSession, profile: RegisterProfile, *,
                       now: datetime | None = None) -> None:
    # Kept beside the parameters: one small document, shared by every gateway process.
    await session.execute(delete(PARAMS).where(PARAMS.c.name == PROFILE_NAME))
    await session.execute(insert(PARAMS).values(
        name=PROFILE_NAME, document=profile.to_dict(), updated_at=now or datetime.now(UTC)))


async def save_parameters(session: AsyncSession, parameters: FsParameters, *,
                          name: str = PARAMETERS_NAME, now: datetime | None = None) -> None:
    await session.execute(delete(PARAMS).where(PARAMS.c.name == name))
    await session.execute(insert(PARAMS).values(
        name=name, document=parameters.to_dict(), updated_at=now or datetime.now(UTC)))


class SqlMatchIndex:
    """Implements :class:`resolvers.mpi.ports.MatchIndex` on one unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def candidates(self, record: MatchRecord, *,
                         max_candidates: int = DEFAULT_MAX_CANDIDATES,
                         ) -> list[tuple[str, MatchRecord]]:
        return await candidates(self._session, record, max_candidates=max_candidates)


async def index_missing(session: AsyncSession, *, batch: int = 1000) -> int:
    """Index the patients that have no match record yet (a database from before the index,
    or rows written outside the gateway): the migrations are frozen and build no index with
    live code, so the gateway does it at start, with the rules it runs. Returns the count."""
    from adapters.db.patients import SqlPatientRepository  # the patient rows, as the app reads

    patients_table = FhirResourceRow.metadata.tables["patients"]
    done = 0
    while True:
        missing = list((await session.execute(
            select(patients_table.c.id).outerjoin(R, R.c.patient_id == patients_table.c.id)
            .where(R.c.patient_id.is_(None)).order_by(patients_table.c.id).limit(batch)
        )).scalars())
        if not missing:
            return done
        found = await SqlPatientRepository(session).get_many(missing)
        for patient in found.values():
            await index_patient(session, patient)
        done += len(found)
        if len(found) < len(missing):  # rows the repository cannot read: do not loop on them
            return done
