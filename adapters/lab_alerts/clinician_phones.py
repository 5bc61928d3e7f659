"""Clinicians' phones for WhatsApp alerts: the operator's directory first
(``CARI_CLINICIAN_PHONES``: provider id -> phone), then the FHIR store's Practitioner whose
identifier value is the provider id (OBR-16 / ORC-12 carry the id, rarely its system), its
first active ``telecom`` of system ``phone`` (``mobile`` use preferred)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.fhir_store import SqlFhirRepository
from resolvers.fhir.model import Condition, SearchRequest

PRACTITIONERS_READ = 5  # the same id under several systems: the first with a phone wins


class DirectoryAndPractitionerPhones:
    def __init__(self, directory: Mapping[str, str],
                 sessions: async_sessionmaker[AsyncSession] | None) -> None:
        self._directory = dict(directory)
        self._sessions = sessions

    async def phone_of(self, provider_id: str) -> str | None:
        if provider_id in self._directory:
            return self._directory[provider_id]
        if self._sessions is None:
            return None
        request = SearchRequest("Practitioner", (Condition(
            "identifier", "token", ((None, provider_id),)),), count=PRACTITIONERS_READ)
        async with self._sessions() as session:
            page = await SqlFhirRepository(session).search(request)
        for resource in page.resources:
            phone = practitioner_phone(resource.document)
            if phone:
                return phone
        return None


def practitioner_phone(practitioner: Mapping[str, Any]) -> str | None:
    if practitioner.get("active") is False:
        return None
    phones = [t for t in practitioner.get("telecom") or []
              if isinstance(t, Mapping) and t.get("system") == "phone"
              and isinstance(t.get("value"), str) and t["value"].strip()
              and not (isinstance(t.get("period"), Mapping) and t["period"].get("end"))]
    phones.sort(key=lambda t: (t.get("use") != "mobile", t.get("rank", 1_000)))
    return str(phones[0]["value"]).strip() if phones else None
