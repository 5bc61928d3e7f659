"""Where a service's patient data comes from, in order: the request's prefetch (a key the
client filled), else the EHR's FHIR server when the request names one (``fhirServer`` with
``fhirAuthorization``; the address must pass the outbound allow-list), else the gateway's
own FHIR store (read as the caller, so the read is role-checked and audited).

A prefetch key that is absent, or holds an OperationOutcome (the client's query failed),
counts as not prefetched; ``null`` is an answer (nothing found). If the named FHIR server
cannot be read, the data is unavailable and the service answers 412 (CDS Hooks 2.0, 2.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resolvers.cds.hooks.medications import bundle_resources
from resolvers.cds.hooks.model import DataUnavailable, HookRequest, PreconditionFailed
from resolvers.cds.hooks.ports import RemoteFhir
from resolvers.fhir.search import parse_search
from resolvers.fhir.service import FhirUseCases
from resolvers.principal import Caller

STORE_PAGE = 100  # the newest this many resources of one search


class PatientData:
    def __init__(self, fhir: FhirUseCases, remote: RemoteFhir) -> None:
        self._fhir = fhir
        self._remote = remote

    @staticmethod
    def prefetched(request: HookRequest, key: str) -> list[dict[str, Any]] | None:
        """The resources under a prefetch key, or None when the key was not filled."""
        if key not in request.prefetch:
            return None
        value = request.prefetch[key]
        if value is None:
            return []
        if not isinstance(value, dict) or value.get("resourceType") == "OperationOutcome":
            return None
        if value.get("resourceType") == "Bundle":
            return bundle_resources(value)
        return [value]

    async def search(self, caller: Caller, request: HookRequest, resource_type: str,
                     query: Sequence[tuple[str, str]], *,
                     prefetch_keys: Sequence[str] = (),
                     own_store: bool = False) -> list[dict[str, Any]]:
        """The patient's ``resource_type`` resources matching ``query`` (the patient is
        added), from the first prefetch key filled, else the FHIR server (unless
        ``own_store``), else the gateway's store."""
        for key in prefetch_keys:
            found = self.prefetched(request, key)
            if found is not None:
                return [r for r in found if r.get("resourceType") == resource_type]
        patient = request.patient_id
        assert patient is not None  # every hook served requires context.patientId
        if request.fhir_server is not None and not own_store:
            try:
                return await self._remote.search(request.fhir_server, resource_type,
                                                  [("patient", patient), *query],
                                                  request.fhir_authorization)
            except DataUnavailable as exc:
                raise PreconditionFailed(
                    f"{resource_type} of the patient were not prefetched and the FHIR server "
                    f"could not be read ({exc})") from None
        page = await self._fhir.search(caller, parse_search(resource_type, [
            ("patient", patient), *query, ("_count", str(STORE_PAGE))]))
        return [r.document for r in page.resources]
