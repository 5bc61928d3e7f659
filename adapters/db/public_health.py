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

from sqlalchemy import and_, case, distinct, exists, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.tables import FhirResourceRow, FhirSearchIndexRow, PatientRow
from resolvers.public_health.model import (
    EXCLUDED_STATUSES,
    LOINC,
    MALARIA_RDT_LOINC,
    POSITIVE_CODES,
    POSITIVE_INTERPRETATIONS,
    POSITIVE_STRINGS,
    RdtCount,
)

I = FhirSearchIndexRow.__table__  # type: ignore[attr-defined]  # noqa: E741
R = FhirResourceRow.__table__  # type: ignore[attr-defined]
P = PatientRow.__table__  # type: ignore[attr-defined]

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


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class SqlAggregates:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def malaria_rdt_statement(self, start: date, end: date,
                              organization_ids: Sequence[str]) -> Any:
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
                       subject.c.value.like("Patient/%"),
                       P.c.organization_id.in_(list(organization_ids)),
                       doc.c.deleted.is_(False), ~withdrawn)
                .group_by(P.c.organization_id))

    async def malaria_rdt(self, start: date, end: date,
                          organization_ids: Sequence[str]) -> list[RdtCount]:
        if not organization_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                self.malaria_rdt_statement(start, end, organization_ids))).all()
        return [RdtCount(str(r[0]), int(r[1]), int(r[2])) for r in rows]
