"""The CapabilityStatement: exactly what this server supports, generated from the same
tables the search and the routes use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from resolvers.fhir.issues import SUPPORTED_TYPES, VALIDATE_ONLY_TYPES
from resolvers.fhir.search_params import SEARCH_PARAMS

INTERACTIONS = ("read", "vread", "update", "delete", "history-instance", "create",
                "search-type")
STARTED = datetime.now(UTC).isoformat(timespec="seconds")
# SMART App Launch: clients that read the CapabilityStatement (fhirclient) find the OAuth
# endpoints here; /.well-known/smart-configuration says the same.
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
VALIDATE = {"name": "validate",
            "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}


def capability_statement(base_url: str) -> dict[str, Any]:
    resources = []
    for resource_type in SUPPORTED_TYPES:
        params = [{"name": p.name, "type": p.kind, "documentation": p.description}
                  for p in SEARCH_PARAMS.get(resource_type, [])]
        params += [{"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"}]
        resources.append({
            "type": resource_type,
            "interaction": [{"code": c} for c in INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": params,
            "operation": [VALIDATE],
        })
    # Validated at the type level ({type}/$validate) but never stored: no interactions.
    resources += [{"type": t, "operation": [VALIDATE]} for t in VALIDATE_ONLY_TYPES]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STARTED,
        "kind": "instance",
        "software": {"name": "Cari integration gateway", "version": "0.1.0"},
        "implementation": {"description": "Cari integration gateway FHIR R4 API",
                           "url": f"{base_url}/api/fhir"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "description": "Bearer PASETO v4.public tokens; roles clinician, integrator "
                               "or admin, or a SMART app's token (its scopes are enforced).",
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"}]}],
                "extension": [{"url": OAUTH_URIS, "extension": [
                    {"url": name, "valueUri": f"{base_url}/api/smart/{name}"}
                    for name in ("authorize", "token", "introspect", "revoke")]}]},
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
            "operation": [VALIDATE],
        }],
    }
