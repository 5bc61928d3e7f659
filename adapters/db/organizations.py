"""OrganizationRepository on SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.compiled import FastSelect
from adapters.db.read_connection import fetch_keys
from adapters.db.tables import OrganizationRow
from resolvers.directory.model import Organization
from resolvers.mpi.model import Identifier

O = OrganizationRow.__table__  # type: ignore[attr-defined]  # noqa: E741
ORGANIZATION_COLUMNS = tuple(c.name for c in O.columns)
_BY_IDS = FastSelect(lambda size: select(O).where(
    O.c.id.in_([bindparam(f"k{i}") for i in range(size)])))


def organization_from_row(r: dict[str, object]) -> Organization:
    idents = r["identifiers"] or []
    assert isinstance(idents, list)
    return Organization(
        id=str(r["id"]), name=str(r["name"]),
        identifiers=tuple(Identifier(i["system"], i["value"]) for i in idents),
        country=r["country"], kind=r["kind"], version=r["version"],  # type: ignore[arg-type]
        created_at=r["created_at"], updated_at=r["updated_at"],  # type: ignore[arg-type]
        part_of=r.get("part_of"),  # type: ignore[arg-type]
    )


class SqlOrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]:
        if not ids:
            return {}
        rows = await fetch_keys(self._session, _BY_IDS, list(ids))
        return {str(r[0]): organization_from_row(dict(zip(ORGANIZATION_COLUMNS, r, strict=True)))
                for r in rows}

    async def add(self, organization: Organization) -> None:
        await self._session.execute(insert(O).values(
            id=organization.id, name=organization.name,
            identifiers=[{"system": i.system, "value": i.value} for i in organization.identifiers],
            country=organization.country, kind=organization.kind, version=organization.version,
            created_at=organization.created_at, updated_at=organization.updated_at,
            part_of=organization.part_of,
        ))

    async def update(self, organization: Organization) -> None:
        await self._session.execute(update(O).where(O.c.id == organization.id).values(
            name=organization.name,
            identifiers=[{"system": i.system, "value": i.value} for i in organization.identifiers],
            country=organization.country, kind=organization.kind, version=organization.version,
            updated_at=organization.updated_at, part_of=organization.part_of,
        ))

    async def descendants(self, ids: Sequence[str], *, max_depth: int = 16) -> set[str]:
        """These organizations and every organization below them (part_of, transitively)."""
        found = set(ids)
        frontier = set(ids)
        for _level in range(max_depth):  # a bounded walk: a cycle cannot loop forever
            if not frontier:
                break
            rows = await self._session.execute(select(O.c.id).where(
                O.c.part_of.in_(sorted(frontier))))
            frontier = {str(r[0]) for r in rows} - found
            found |= frontier
        return found

    async def search(self, *, name: str | None, after: str | None, limit: int) -> list[Organization]:
        stmt = select(O).order_by(O.c.id).limit(limit)
        if name:
            stmt = stmt.where(func.lower(O.c.name).contains(name.lower(), autoescape=True))
        if after:
            stmt = stmt.where(O.c.id > after)
        return [organization_from_row(dict(r)) for r in (await self._session.execute(stmt)).mappings()]
