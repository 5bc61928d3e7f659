"""A lookup as the documented FHIR Bundle (REST) — GraphQL renders the same LookupResult.

One country: ``meta.source`` is the HIE's FHIR base, ``meta.country`` its code. Several:
``meta.source`` is the gateway's cross-border base (it assembled the answer) and
``meta.country`` the codes asked, comma-separated; each entry's ``fullUrl`` names the HIE it
came from. Failed countries and dropped entries are one OperationOutcome entry with
``search.mode = outcome``. ``total`` counts the Patients (matches) only.
"""

from __future__ import annotations

from typing import Any

from resolvers.crossborder.model import LookupResult, OutcomeStatus


def _full_url(source: str, patient: dict[str, Any]) -> str | None:
    resource_id = patient.get("id")
    return f"{source}/Patient/{resource_id}" if isinstance(resource_id, str) and source else None


def _issues(result: LookupResult) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for o in result.outcomes:
        name = o.country or o.source
        if o.status is OutcomeStatus.FAILED:
            issues.append({"severity": "error",
                           "code": "timeout" if o.failure == "timeout" else "transient",
                           "diagnostics": f"{name}: {o.message}",
                           "details": {"coding": [{"system": "urn:cari:cross-border:failure",
                                                   "code": str(o.failure)}],
                                       "text": name},
                           **({"expression": [f"country.{o.country}"]} if o.country else {})})
        issues += [{"severity": "warning", "code": "invalid", "diagnostics": f"{name}: {d}"}
                   for d in o.dropped]
    return issues


def to_bundle(result: LookupResult, gateway_source: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for outcome, patient in result.patients:
        entry: dict[str, Any] = {"resource": patient, "search": {"mode": "match"}}
        full_url = _full_url(outcome.source, patient)
        if full_url:
            entry = {"fullUrl": full_url, **entry}
        entries.append(entry)
    issues = _issues(result)
    if issues:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": issues},
                        "search": {"mode": "outcome"}})
    meta: dict[str, Any]
    if result.fan_out:
        meta = {"source": gateway_source, "country": ",".join(result.countries)}
    else:
        only = result.outcomes[0]
        meta = {"source": only.source, **({"country": only.country} if only.country else {})}
    meta["national_id"] = result.national_id
    return {"resourceType": "Bundle", "type": "searchset", "meta": meta,
            "total": len(result.patients), "entry": entries}
