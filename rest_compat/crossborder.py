"""/api/fhir/cross-border: look a patient up in national HIEs by national id (FHIR Bundle)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from resolvers.crossborder.bundle import to_bundle
from resolvers.crossborder.countries import SUPPORTED
from rest_compat.envelope import fhir_json
from rest_compat.request_context import caller, services
from rest_compat.spec import Operation, QueryParam, api_route

PATH = "/api/fhir/cross-border/Patient/{national_id}"


def _gateway_source(request: Request) -> str:
    return f"{request.app.state.settings.public_base_url}/api/fhir/cross-border"


async def lookup(request: Request) -> Response:
    query = request.query_params
    result = await services(request).cross_border.lookup(
        caller(request), request.path_params["national_id"], countries=query.get("country"),
        endpoint=query.get("hie_endpoint"), system=query.get("identifier_system"),
        purpose=query.get("purpose"))
    return fhir_json(to_bundle(result, _gateway_source(request)))


async def import_patient(request: Request) -> Response:
    query = request.query_params
    done = await services(request).cross_border_import.import_patient(
        caller(request), request.path_params["national_id"], query.get("country"),
        purpose=query.get("purpose"))
    parameters: list[dict[str, Any]] = [
        {"name": "patient", "valueReference": {"reference": f"Patient/{done.patient.id}"}},
        {"name": "outcome", "valueCode": done.outcome},
        {"name": "country", "valueCode": done.country},
        {"name": "source", "valueUri": done.source}]
    if done.remote_id:
        parameters.append({"name": "remoteId", "valueString": done.remote_id})
    base = request.app.state.settings.public_base_url
    return fhir_json({"resourceType": "Parameters", "parameter": parameters},
                     201 if done.outcome == "created" else 200,
                     {"Location": f"{base}/api/fhir/Patient/{done.patient.id}"})


_FHIR_JSON = {"application/fhir+json": {"schema": {"type": "object"}}}
_PARAMS = (
    QueryParam("national_id", "The national id in the country's identifier system",
               location="path", required=True),
    QueryParam("country", f"One of {', '.join(SUPPORTED)}; several separated by commas "
               "(asked in parallel), or ALL"),
    QueryParam("hie_endpoint", "Instead of country (or with one country, for its identifier "
               "system): a sandbox HIE's FHIR base; must be on CARI_OUTBOUND_ALLOWLIST"),
    QueryParam("identifier_system", "With hie_endpoint: the national id's identifier system"),
    QueryParam("purpose", "Purpose of use for the audit trail (default TREAT; the "
               "X-Purpose-Of-Use header is read when this is absent)"),
)


def _route(method: str, path: str, endpoint: Any, summary: str,
           errors: tuple[int, ...], params: tuple[QueryParam, ...],
           success: tuple[int, ...] = (200,)) -> Operation:
    return api_route(method, path, endpoint, summary=summary, tag="fhir",
                     roles=("clinician", "integrator"), envelope=False, fhir=True,
                     raw_responses={str(status): {"description": "Success",
                                                 "content": _FHIR_JSON} for status in success},
                     params=params, error_statuses=errors,
                     request_headers=(QueryParam("X-Purpose-Of-Use", "Purpose of use for the "
                                                 "audit trail", location="header"),))


operations: list[Operation] = [
    _route("GET", PATH, lookup, "Cross-border patient lookup in national HIEs (Bundle)",
           (400, 502, 504), _PARAMS),
    _route("POST", PATH + "/$import", import_patient, "Link a patient found in a national HIE "
           "into the local MPI (new, matched or linked; Parameters)", (400, 404, 409, 502, 504),
           (_PARAMS[0], QueryParam("country", f"One of {', '.join(SUPPORTED)}", required=True),
            _PARAMS[4]), success=(200, 201)),
]
