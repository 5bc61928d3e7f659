"""When each payment provider last answered, read from the stored payment transitions
(``ProviderAnswers``): the console's health page shows it after a restart too.

One statement, bounded: the newest ``SCAN_LIMIT`` transitions, walked down the primary key
(transition ids are time-ordered), joined to their payments by primary key. A provider whose
last answer is older than that window shows no stored answer; no new index is needed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.tables_payments import PaymentRow, PaymentTransitionRow
from resolvers.payments.ports import ANSWER_REASON_PREFIXES, ANSWER_SOURCES

SCAN_LIMIT = 20_000

P = PaymentRow.__table__  # type: ignore[attr-defined]
H = PaymentTransitionRow.__table__  # type: ignore[attr-defined]


class SqlProviderAnswers:
    def __init__(self, engine: AsyncEngine, *, scan_limit: int = SCAN_LIMIT) -> None:
        self._engine = engine
        self._scan_limit = scan_limit

    async def last_answers(self) -> dict[str, datetime]:
        recent = (select(H.c.payment_id, H.c.at, H.c.source, H.c.reason)
                  .order_by(H.c.id.desc()).limit(self._scan_limit).subquery())
        answered = or_(recent.c.source.in_(ANSWER_SOURCES),
                       *(recent.c.reason.like(f"{prefix}%") for prefix in ANSWER_REASON_PREFIXES))
        statement = (select(P.c.provider, func.max(recent.c.at))
                     .select_from(recent.join(P, P.c.id == recent.c.payment_id))
                     .where(answered).group_by(P.c.provider))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return {provider: at for provider, at in rows if at is not None}
