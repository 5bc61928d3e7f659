"""The SQL store of WhatsApp messaging: templates, consent and windows, and messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.messaging_consent import SqlTemplatesAndConsent
from adapters.db.messaging_messages import SqlMessages
from adapters.db.tables import FhirResourceRow, PatientRow

P = PatientRow.__table__  # type: ignore[attr-defined]
F = FhirResourceRow.__table__  # type: ignore[attr-defined]


class SqlMessagingStore(SqlTemplatesAndConsent, SqlMessages):
    """Both halves share the session factory, clock and commit hook."""


class SqlPatientContacts:
    """A patient's phone from the MPI, and the country of their FHIR Patient's address."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def contact(self, patient_id: str) -> tuple[str | None, str | None] | None:
        async with self._sessions() as session:
            phone = (await session.execute(select(P.c.id, P.c.phone).where(
                P.c.id == patient_id))).first()
            if phone is None:
                return None
            document = (await session.execute(select(F.c.document).where(
                F.c.resource_type == "Patient", F.c.id == patient_id,
                F.c.deleted.is_(False)))).scalar_one_or_none()
        return phone.phone, _country(document)


def _country(document: Any) -> str | None:
    """The first ISO alpha-2 country of the Patient's addresses (home first)."""
    if not isinstance(document, dict):
        return None
    addresses = [a for a in document.get("address") or () if isinstance(a, dict)]
    addresses.sort(key=lambda a: a.get("use") != "home")
    for address in addresses:
        country = str(address.get("country") or "").strip()
        if len(country) == 2 and country.isalpha():
            return country.upper()
    return None
