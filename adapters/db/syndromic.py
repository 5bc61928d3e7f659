"""Syndrome counts per facility and day, counted by the database in one GROUP BY.

A Condition counts for a syndrome when its ``code`` index row (ICD-10, or no system) starts
with one of the syndrome's codes, compared upper-cased without dots (R19.7 and R197 alike).
Its day is the UTC date of its ``sort_date`` (onset, else recorded): ``substr`` of the
stored UTC text on SQLite, ``to_char`` of the UTC timestamp on PostgreSQL. Its facility is
the patient's organization. Refuted and entered-in-error Conditions are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.public_health import I, O, P, R, _json_text, _midnight
from resolvers.public_health.model import EXCLUDED_VERIFICATION, ICD10
from resolvers.public_health.surveillance.model import SYNDROMES, SyndromeCount


def _bare(code: str) -> str:
    return code.upper().replace(".", "")


class SqlSyndromes:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def _day(self, column: Any) -> Any:
        if self._dialect == "postgresql":
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
        return func.substr(column, 1, 10)

    def statement(self, start: date, end: date, organization_ids: Sequence[str]) -> Any:
        code, subject, doc = I.alias("c"), I.alias("s"), R.alias("r")
        bare = func.replace(func.upper(code.c.value), ".", "")
        matches = {name: or_(*(bare.like(_bare(c) + "%") for c in codes))
                   for name, codes in SYNDROMES.items()}
        syndrome = case(*((m, name) for name, m in matches.items()))
        verification = func.coalesce(_json_text(
            self._dialect, "r", ("verificationStatus", "coding", "0", "code")), "")
        each = (select(P.c.organization_id.label("org"), syndrome.label("syn"),
                       self._day(doc.c.sort_date).label("day"),
                       code.c.resource_id.label("rid"))
                .select_from(code
                             .join(doc, and_(doc.c.resource_type == "Condition",
                                             doc.c.id == code.c.resource_id))
                             .join(subject, and_(subject.c.resource_type == "Condition",
                                                 subject.c.resource_id == code.c.resource_id,
                                                 subject.c.param == "patient"))
                             .join(P, P.c.id == func.substr(subject.c.value,
                                                            len("Patient/") + 1)))
                .where(code.c.resource_type == "Condition", code.c.param == "code",
                       or_(*matches.values()),
                       or_(code.c.system == ICD10, code.c.system.is_(None)),
                       doc.c.sort_date >= _midnight(start), doc.c.sort_date < _midnight(end),
                       doc.c.deleted.is_(False), subject.c.value.like("Patient/%"),
                       P.c.organization_id.in_(list(organization_ids)),
                       verification.notin_(EXCLUDED_VERIFICATION))
                .subquery("each_case"))
        return (select(each.c.org, each.c.syn, each.c.day, func.count(distinct(each.c.rid)))
                .group_by(each.c.org, each.c.syn, each.c.day))

    async def syndrome_days(self, start: date, end: date,
                            organization_ids: Sequence[str]) -> list[SyndromeCount]:
        if not organization_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(self.statement(start, end, organization_ids))).all()
        return [SyndromeCount(str(r[0]), str(r[1]), date.fromisoformat(str(r[2])[:10]),
                              int(r[3])) for r in rows]

    async def parents(self) -> dict[str, str | None]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(O.c.id, O.c.part_of))).all()
        return {str(r[0]): r[1] for r in rows}
