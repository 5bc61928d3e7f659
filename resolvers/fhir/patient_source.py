"""The FHIR Patient of an MPI patient: Medplum's copy when Medplum is configured, else ours.

Medplum holds the standard copy other systems read; if it cannot be reached the local
document is served (the caller sees which in ``source``) so clinical work is not blocked.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from resolvers.fhir.service import FhirUseCases
from resolvers.principal import Caller

log = logging.getLogger("cari.fhir")


class RemoteFhirReader(Protocol):
    async def find_copy(self, resource: dict[str, Any]) -> dict[str, Any] | None:
        """The remote server's copy of our ``resource`` (found the way the mirror wrote it:
        by the gateway identifier carrying our id), or None when it has none yet."""
        ...


class PatientDocuments:
    def __init__(self, fhir: FhirUseCases, remote: RemoteFhirReader | None) -> None:
        self._fhir = fhir
        self._remote = remote

    async def fhir_patient(self, caller: Caller, patient_id: str) -> tuple[dict[str, Any], str]:
        local = await self._fhir.read(caller, "Patient", patient_id)  # authorizes and audits
        if self._remote is None:
            return local.document, "local"
        try:
            remote = await self._remote.find_copy(local.document)
        except Exception as exc:  # Medplum down: the local copy is the same record
            log.warning("medplum read failed; serving the local copy",
                        extra={"error_type": type(exc).__name__})
            return local.document, "local"
        return (remote, "medplum") if remote is not None else (local.document, "local")
