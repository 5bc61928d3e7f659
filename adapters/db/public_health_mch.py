"""Maternal and child health counts (use case 4), by the database in one GROUP BY.

Each indicator contributes (facility, indicator, resource id) rows to one derived table (a
UNION ALL): ANC and delivery Encounters by ``type[0].coding[0].code`` (SNOMED CT, read from
the document), births weighed and low birth weights by the Observation's ``code`` index row
(LOINC 8339-4) and ``valueQuantity`` (read by the database), under-5 visits by the patient's
birth date at the Encounter's start (its ``sort_date``). The facility is the patient's
(``patients.organization_id``). The outer statement counts distinct ids per facility and
indicator.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select, union_all

from adapters.db.public_health import I, P, R, SqlAggregates, _age, _in, _json_text, _midnight
from resolvers.public_health.model import (
    ANC_INITIAL,
    ANC_VISITS,
    ANC_WINDOW_DAYS,
    BIRTH_WEIGHT_LOINC,
    DELIVERY,
    EXCLUDED_ENCOUNTERS,
    EXCLUDED_STATUSES,
    LOINC,
    LOW_BIRTH_WEIGHT_GRAMS,
    SNOMED,
    IndicatorCount,
)


class HealthAggregates(SqlAggregates):
    """The aggregates with the maternal and child health counts."""

    def _encounters(self, alias: str, start: date, end: date, types: Sequence[str] | None,
                    organization_ids: Sequence[str] | None
                    ) -> tuple[Any, Any, Any, list[Any]]:
        """(document, patient, joined from-clause, conditions) of the patients' Encounters
        starting in [start, end), of the given SNOMED types (None: any); aliases of their
        own, so that a correlated count does not take the outer query's rows."""
        doc, subject, pt = R.alias(alias), I.alias(f"{alias}_s"), P.alias(f"{alias}_p")

        def text(*path: str) -> Any:
            return _json_text(self._dialect, alias, path)

        joined = (doc.join(subject, and_(subject.c.resource_type == "Encounter",
                                         subject.c.resource_id == doc.c.id,
                                         subject.c.param == "patient"))
                  .join(pt, pt.c.id == func.substr(subject.c.value, len("Patient/") + 1)))
        where = [doc.c.resource_type == "Encounter", doc.c.deleted.is_(False),
                 doc.c.sort_date >= _midnight(start), doc.c.sort_date < _midnight(end),
                 subject.c.value.like("Patient/%"), _within(pt, organization_ids),
                 func.coalesce(text("status"), "").notin_(EXCLUDED_ENCOUNTERS)]
        if types is not None:
            system = func.coalesce(text("type", "0", "coding", "0", "system"), SNOMED)
            where += [text("type", "0", "coding", "0", "code").in_(list(types)),
                      system == SNOMED]
        return doc, pt, joined, where

    def mch_statement(self, start: date, end: date,
                  organization_ids: Sequence[str] | None) -> Any:
        def rows(name: str, doc: Any, pt: Any, joined: Any, where: list[Any]) -> Any:
            return (select(pt.c.organization_id.label("org"), literal(name).label("ind"),
                           doc.c.id.label("rid")).select_from(joined).where(*where))

        anc1 = rows("MCH_ANC1", *self._encounters("a1", start, end, ANC_INITIAL,
                                                   organization_ids))
        deliveries = rows("MCH_FACILITY_DELIVERIES",
                          *self._encounters("dl", start, end, DELIVERY, organization_ids))
        u5_doc, u5_pt, u5_from, u5_where = self._encounters("u5", start, end, None,
                                                            organization_ids)
        u5 = rows("MCH_U5_VISITS", u5_doc, u5_pt, u5_from,
                  [*u5_where, u5_pt.c.birth_date.is_not(None),
                   _age(self._dialect, u5_doc.c.sort_date, u5_pt.c.birth_date) < 5])
        return self._grouped(
            [anc1, self._anc4(start, end, organization_ids), deliveries, u5,
             *self._weights(start, end, organization_ids)])

    def _grouped(self, parts: list[Any]) -> Any:
        each = union_all(*parts).subquery("each_mch")
        return (select(each.c.org, each.c.ind, func.count(func.distinct(each.c.rid)))
                .group_by(each.c.org, each.c.ind))

    def _anc4(self, start: date, end: date, organization_ids: Sequence[str] | None) -> Any:
        """ANC Encounters in the period that are the patient's 4th ANC Encounter since
        ANC_WINDOW_DAYS before the period start (a correlated count)."""
        doc, pt, joined, where = self._encounters("a4", start, end, ANC_VISITS,
                                                  organization_ids)
        _e, e_pt, e_from, e_where = self._encounters(
            "ae", start - timedelta(days=ANC_WINDOW_DAYS), end, ANC_VISITS, None)
        earlier = (select(func.count(func.distinct(_e.c.id))).select_from(e_from)
                   .where(*e_where, e_pt.c.id == pt.c.id,
                          or_(_e.c.sort_date < doc.c.sort_date,
                              and_(_e.c.sort_date == doc.c.sort_date, _e.c.id <= doc.c.id)))
                   .scalar_subquery())
        return (select(pt.c.organization_id.label("org"), literal("MCH_ANC4").label("ind"),
                       doc.c.id.label("rid")).select_from(joined).where(*where, earlier == 4))

    def _weights(self, start: date, end: date,
                 organization_ids: Sequence[str] | None) -> list[Any]:
        code, when, subject, status = I.alias("wc"), I.alias("wd"), I.alias("ws"), I.alias("wt")
        doc = R.alias("w")
        value = cast(_json_text(self._dialect, "w", ("valueQuantity", "value")), Float)
        unit = func.lower(func.coalesce(
            _json_text(self._dialect, "w", ("valueQuantity", "code")),
            _json_text(self._dialect, "w", ("valueQuantity", "unit")), "g"))
        grams = case((unit == "kg", value * 1000), else_=value)
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
        withdrawn = (select(status.c.resource_id).where(
            status.c.resource_type == "Observation", status.c.resource_id == code.c.resource_id,
            status.c.param == "status", status.c.value.in_(EXCLUDED_STATUSES)).exists())
        where = [code.c.resource_type == "Observation", code.c.param == "code",
                 code.c.value.in_(BIRTH_WEIGHT_LOINC),
                 or_(code.c.system == LOINC, code.c.system.is_(None)),
                 when.c.date_lo >= _midnight(start), when.c.date_lo < _midnight(end),
                 subject.c.value.like("Patient/%"), _in(organization_ids),
                 doc.c.deleted.is_(False), ~withdrawn, value.is_not(None)]

        def rows(name: str, *extra: Any) -> Any:
            return (select(P.c.organization_id.label("org"), literal(name).label("ind"),
                           code.c.resource_id.label("rid"))
                    .select_from(joined).where(*where, *extra))

        return [rows("MCH_BIRTHS_WEIGHED"), rows("MCH_LBW", grams < LOW_BIRTH_WEIGHT_GRAMS)]

    async def mch_counts(self, start: date, end: date,
                         organization_ids: Sequence[str] | None) -> list[IndicatorCount]:
        if organization_ids is not None and not organization_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(self.mch_statement(start, end, organization_ids))).all()
        return [IndicatorCount(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def _within(pt: Any, organization_ids: Sequence[str] | None) -> Any:
    if organization_ids is None:
        return pt.c.organization_id.is_not(None)
    return pt.c.organization_id.in_(list(organization_ids))
