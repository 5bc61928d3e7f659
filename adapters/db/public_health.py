"""Public-health aggregates, counted by the database in one GROUP BY per indicator set.

Malaria RDTs: an Observation is found by its ``code`` index row (a malaria antigen LOINC
code), its effective date by its ``date`` row (``date_lo`` in the period), its patient by its
``patient`` row and the patient's facility by ``patients.organization_id``. Whether it is
positive is read from the stored document by the database (``json_extract`` on SQLite,
``#>>`` on PostgreSQL): the coded value, the string value, or the interpretation. Nothing is
decoded in Python; the answer is one row per facility.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.tables import FhirResourceRow, FhirSearchIndexRow, OrganizationRow, PatientRow
from resolvers.public_health.model import (
    AGE_BANDS,
    ANTIGENS,
    CVX,
    EXCLUDED_STATUSES,
    EXCLUDED_VERIFICATION,
    ICD10,
    IDSR_GROUPS,
    LOINC,
    MALARIA_RDT_LOINC,
    POSITIVE_CODES,
    POSITIVE_INTERPRETATIONS,
    POSITIVE_STRINGS,
    SEXES,
    UNKNOWN,
    CaseCount,
    DoseCount,
    OrgNode,
    RdtCount,
)

I = FhirSearchIndexRow.__table__  # type: ignore[attr-defined]  # noqa: E741
R = FhirResourceRow.__table__  # type: ignore[attr-defined]
P = PatientRow.__table__  # type: ignore[attr-defined]
O = OrganizationRow.__table__  # type: ignore[attr-defined]  # noqa: E741

_PATHS = {"code": ("valueCodeableConcept", "coding", "0", "code"),
          "text": ("valueString",),
          "interpretation": ("interpretation", "0", "coding", "0", "code")}


def _json_text(dialect: str, alias: str, path: tuple[str, ...]) -> Any:
    """A text value of the document at ``path`` (the path is ours, never a caller's)."""
    if dialect == "postgresql":
        return literal_column(f"({alias}.document #>> '{{{','.join(path)}}}')")
    json_path = "$" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path)
    return literal_column(f"json_extract({alias}.document, '{json_path}')")


def _positive(dialect: str, alias: str) -> Any:
    def value(name: str) -> Any:
        return func.coalesce(_json_text(dialect, alias, _PATHS[name]), "")

    return or_(func.upper(value("code")).in_([c.upper() for c in POSITIVE_CODES]),
               func.lower(func.trim(value("text"))).in_(POSITIVE_STRINGS),
               func.upper(value("interpretation")).in_(POSITIVE_INTERPRETATIONS))


def _age(dialect: str, onset: Any, birth: Any) -> Any:
    """Completed years between the birth date and the onset (a UTC timestamp)."""
    if dialect == "postgresql":
        return func.date_part("year", func.age(func.date(func.timezone("UTC", onset)), birth))
    year = cast(func.strftime("%Y", onset), Integer) - cast(func.strftime("%Y", birth),
                                                             Integer)
    return year - case((func.strftime("%m-%d", onset) < func.strftime("%m-%d", birth), 1),
                       else_=0)


def _band(age: Any) -> Any:
    low, middle, high = AGE_BANDS
    return case((age.is_(None), UNKNOWN), (age < 5, low), (age < 15, middle), else_=high)


def _in(organization_ids: Sequence[str] | None) -> Any:
    """The patient's facility among those asked for; None: any facility."""
    if organization_ids is None:
        return P.c.organization_id.is_not(None)
    return P.c.organization_id.in_(list(organization_ids))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class SqlAggregates:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def malaria_rdt_statement(self, start: date, end: date,
                              organization_ids: Sequence[str] | None) -> Any:
        code, when, subject, status = I.alias("c"), I.alias("d"), I.alias("s"), I.alias("st")
        doc = R.alias("r")
        positive = _positive(self._dialect, "r")
        withdrawn = exists().where(
            status.c.resource_type == "Observation", status.c.resource_id == code.c.resource_id,
            status.c.param == "status", status.c.value.in_(EXCLUDED_STATUSES))
        joined = (code
                  .join(when, and_(when.c.resource_type == "Observation",
                                   when.c.resource_id == code.c.resource_id,
                                   when.c.param == "date"))
                  .join(subject, and_(subject.c.resource_type == "Observation",
                                      subject.c.resource_id == code.c.resource_id,
                                      subject.c.param == "patient"))
                  .join(P, P.c.id == func.substr(subject.c.value, len("Patient/") + 1))
                  .join(doc, and_(doc.c.resource_type == "Observation",
                                  doc.c.id == code.c.resource_id)))
        return (select(P.c.organization_id,
                       func.count(distinct(code.c.resource_id)).label("tested"),
                       func.count(distinct(case((positive, code.c.resource_id)))).label(
                           "positive"))
                .select_from(joined)
                .where(code.c.resource_type == "Observation", code.c.param == "code",
                       code.c.value.in_(MALARIA_RDT_LOINC),
                       or_(code.c.system == LOINC, code.c.system.is_(None)),
                       when.c.date_lo >= _midnight(start), when.c.date_lo < _midnight(end),
                       subject.c.value.like("Patient/%"), _in(organization_ids),
                       doc.c.deleted.is_(False), ~withdrawn)
                .group_by(P.c.organization_id))

    async def malaria_rdt(self, start: date, end: date,
                          organization_ids: Sequence[str] | None) -> list[RdtCount]:
        if organization_ids is not None and not organization_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                self.malaria_rdt_statement(start, end, organization_ids))).all()
        return [RdtCount(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    def idsr_statement(self, start: date, end: date,
                       organization_ids: Sequence[str] | None) -> Any:
        """One row per (facility, group, age band, sex): a derived table of each coded
        Condition with its group, band and sex, grouped. The onset is the Condition's
        ``sort_date``, the earliest of its indexed dates (onset, else recorded)."""
        code, subject, doc = I.alias("c"), I.alias("s"), R.alias("r")
        category = func.upper(func.substr(code.c.value, 1, 3))
        group = case(*((category.in_(cats), name) for name, cats in IDSR_GROUPS.items()))
        sex = case((P.c.gender.in_(SEXES), P.c.gender), else_=UNKNOWN)
        verification = func.coalesce(_json_text(
            self._dialect, "r", ("verificationStatus", "coding", "0", "code")), "")
        each = (select(P.c.organization_id.label("org"), group.label("grp"),
                       _band(_age(self._dialect, doc.c.sort_date, P.c.birth_date)).label("band"),
                       sex.label("sex"), code.c.resource_id.label("rid"))
                .select_from(code
                             .join(doc, and_(doc.c.resource_type == "Condition",
                                             doc.c.id == code.c.resource_id))
                             .join(subject, and_(subject.c.resource_type == "Condition",
                                                 subject.c.resource_id == code.c.resource_id,
                                                 subject.c.param == "patient"))
                             .join(P, P.c.id == func.substr(subject.c.value,
                                                            len("Patient/") + 1)))
                .where(code.c.resource_type == "Condition", code.c.param == "code",
                       category.in_([c for cats in IDSR_GROUPS.values() for c in cats]),
                       or_(code.c.system == ICD10, code.c.system.is_(None)),
                       doc.c.sort_date >= _midnight(start), doc.c.sort_date < _midnight(end),
                       doc.c.deleted.is_(False), subject.c.value.like("Patient/%"),
                       _in(organization_ids), verification.notin_(EXCLUDED_VERIFICATION))
                .subquery("each_case"))
        return (select(each.c.org, each.c.grp, each.c.band, each.c.sex,
                       func.count(distinct(each.c.rid)))
                .group_by(each.c.org, each.c.grp, each.c.band, each.c.sex))

    async def idsr_cases(self, start: date, end: date,
                         organization_ids: Sequence[str] | None) -> list[CaseCount]:
        if organization_ids is not None and not organization_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                self.idsr_statement(start, end, organization_ids))).all()
        return [CaseCount(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]

    def doses_statement(self, start: date, end: date,
                        organization_ids: Sequence[str] | None) -> Any:
        """One row per (facility, antigen, dose number): a derived table of each completed
        Immunization with its antigen (by CVX code) and dose number (read from the document
        by the database), grouped."""
        code, subject, doc = I.alias("c"), I.alias("s"), R.alias("r")
        antigen = case(*((code.c.value.in_(codes), name)
                         for name, (codes, _doses) in ANTIGENS.items()))
        dose = cast(_json_text(self._dialect, "r",
                               ("protocolApplied", "0", "doseNumberPositiveInt")), String)
        status = _json_text(self._dialect, "r", ("status",))
        each = (select(P.c.organization_id.label("org"), antigen.label("antigen"),
                       dose.label("dose"), code.c.resource_id.label("rid"))
                .select_from(code
                             .join(doc, and_(doc.c.resource_type == "Immunization",
                                             doc.c.id == code.c.resource_id))
                             .join(subject, and_(subject.c.resource_type == "Immunization",
                                                 subject.c.resource_id == code.c.resource_id,
                                                 subject.c.param == "patient"))
                             .join(P, P.c.id == func.substr(subject.c.value,
                                                            len("Patient/") + 1)))
                .where(code.c.resource_type == "Immunization", code.c.param == "code",
                       code.c.value.in_([c for codes, _d in ANTIGENS.values() for c in codes]),
                       or_(code.c.system == CVX, code.c.system.is_(None)),
                       doc.c.sort_date >= _midnight(start), doc.c.sort_date < _midnight(end),
                       doc.c.deleted.is_(False), subject.c.value.like("Patient/%"),
                       _in(organization_ids), status == "completed")
                .subquery("each_dose"))
        return (select(each.c.org, each.c.antigen, each.c.dose, func.count(distinct(each.c.rid)))
                .group_by(each.c.org, each.c.antigen, each.c.dose))

    async def vaccine_doses(self, start: date, end: date,
                            organization_ids: Sequence[str] | None) -> list[DoseCount]:
        if organization_ids is not None and not organization_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                self.doses_statement(start, end, organization_ids))).all()
        return [DoseCount(str(r[0]), str(r[1]),
                          int(r[2]) if r[2] is not None and str(r[2]).isdigit() else None,
                          int(r[3])) for r in rows]

    async def organizations(self) -> list[OrgNode]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(O.c.id, O.c.name, O.c.part_of))).all()
        return [OrgNode(str(r[0]), str(r[1]), r[2]) for r in rows]
