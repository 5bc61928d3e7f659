"""Reading an EHR's FHIR server for a CDS call (the request's ``fhirServer``, with the
bearer token of its ``fhirAuthorization``): one search, its first page.

The address came from the caller, so it must be on the outbound allow-list
(``CARI_OUTBOUND_ALLOWLIST``) before anything is sent; a refused address, no answer or an
error status makes the data unavailable (the service then answers 412).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from adapters.http.outbound import OutboundPolicy, OutboundRefused
from resolvers.cds.hooks.model import DataUnavailable, FhirAuthorization

MAX_BYTES = 4_194_304


class HttpEhrFhir:
    def __init__(self, http: httpx.AsyncClient, policy: OutboundPolicy) -> None:
        self._http = http
        self._policy = policy

    async def search(self, base_url: str, resource_type: str, query: Sequence[tuple[str, str]],
                     authorization: FhirAuthorization | None) -> list[dict[str, Any]]:
        url = f"{base_url.rstrip('/')}/{resource_type}"
        headers = {"Accept": "application/fhir+json"}
        if authorization is not None:
            headers["Authorization"] = f"Bearer {authorization.access_token}"
        try:
            await self._policy.check(url, caller_supplied=True)
            response = await self._http.get(url, params=list(query), headers=headers)
        except OutboundRefused as exc:
            raise DataUnavailable(str(exc)) from None
        except httpx.HTTPError as exc:
            raise DataUnavailable(f"{type(exc).__name__} from the FHIR server") from None
        if response.status_code != 200 or len(response.content) > MAX_BYTES:
            raise DataUnavailable(f"the FHIR server answered {response.status_code}")
        try:
            bundle = response.json()
        except ValueError:
            raise DataUnavailable("the FHIR server did not answer JSON") from None
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise DataUnavailable("the FHIR server did not answer a Bundle")
        return [e["resource"] for e in entries or [] if isinstance(e, dict)
                and isinstance(e.get("resource"), dict)
                and e["resource"].get("resourceType") == resource_type]
