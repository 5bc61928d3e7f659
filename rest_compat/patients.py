"""/api/patients: the patient records of the master patient index."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import InvalidInput
from resolvers.mpi.model import Identifier, PatientDraft, PatientQuery
from resolvers.mpi.patients import READ_ROLES, WRITE_ROLES
from rest_compat.envelope import ok
from rest_compat.models import PatientBody, PatientPage, PatientView, page_cursor
from rest_compat.request_context import caller, if_match_version, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route


def _draft(body: PatientBody) -> PatientDraft:
    return PatientDraft(
        identifiers=tuple(i.to_domain() for i in body.identifiers), family=body.family,
        given=tuple(body.given), birth_date=body.birth_date, gender=body.gender,
        phone=body.phone, organization_id=body.organization_id,
    )


def _etag(version: int) -> str:
    return f'W/"{version}"'


def _if_match(request: Request) -> int | None:
    try:
        return if_match_version(request)
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"field": "If-Match",
                                               "message": "not a version ETag"}]) from None


async def list_patients(request: Request) -> Response:
    who = caller(request)  # authenticate before judging the parameters: 401 beats 422
    params = request.query_params
    identifier = None
    if raw := params.get("identifier"):
        system, sep, value = raw.rpartition("|")
        if not sep or not system or not value:
            raise InvalidInput("identifier must be system|value",
                               details=[{"field": "identifier", "message": "expected system|value"}])
        identifier = Identifier(system, value)
    limit = query_int(request, "limit", 50)
    patients = await services(request).patients.search(who, PatientQuery(
        identifier=identifier, family=params.get("family") or None,
        organization_id=params.get("organization_id") or None,
        after=params.get("cursor") or None, limit=limit,
    ))
    return ok(PatientPage(items=[PatientView.of(p) for p in patients],
                          next_cursor=page_cursor(patients, limit)))


async def create_patient(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, PatientBody)
    patient = await services(request).patients.create(who, _draft(body))
    return ok(PatientView.of(patient), status=201, headers={
        "Location": f"/api/patients/{patient.id}", "ETag": _etag(patient.version)})


async def get_patient(request: Request) -> Response:
    patient = await services(request).patients.get(caller(request),
                                                   request.path_params["patient_id"])
    return ok(PatientView.of(patient), headers={"ETag": _etag(patient.version)})


async def update_patient(request: Request) -> Response:
    who = caller(request)
    expected = _if_match(request)
    body = await parse_body(request, PatientBody)
    patient = await services(request).patients.update(
        who, request.path_params["patient_id"], _draft(body), expected_version=expected)
    return ok(PatientView.of(patient), headers={"ETag": _etag(patient.version)})


_READ = tuple(r.value for r in READ_ROLES)
_WRITE = tuple(r.value for r in WRITE_ROLES)
_ID = QueryParam("patient_id", "Patient id", location="path", required=True)

operations: list[Operation] = [
    api_route("GET", "/api/patients", list_patients, summary="Search patients", tag="patients",
              roles=_READ, response_model=PatientPage, error_statuses=(422,), params=(
                  QueryParam("identifier", "system|value of an identifier"),
                  QueryParam("family", "Family name prefix, case-insensitive"),
                  QueryParam("organization_id", "Managing organization id"),
                  QueryParam("cursor", "next_cursor of the previous page"),
                  QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                    "maximum": 200, "default": 50}),
              )),
    api_route("POST", "/api/patients", create_patient, summary="Create a patient",
              tag="patients", roles=_WRITE, request_model=PatientBody, response_model=PatientView,
              success_status=201, error_statuses=(400, 409, 413, 415, 422)),
    api_route("GET", "/api/patients/{patient_id}", get_patient, summary="Read a patient",
              tag="patients", roles=_READ, response_model=PatientView, params=(_ID,),
              error_statuses=(404,)),
    api_route("PUT", "/api/patients/{patient_id}", update_patient,
              summary="Replace a patient's details (If-Match for optimistic locking)",
              tag="patients", roles=_WRITE, request_model=PatientBody, response_model=PatientView,
              params=(_ID,), error_statuses=(400, 404, 409, 413, 415, 422),
              request_headers=(QueryParam("If-Match", 'ETag of the version you read, W/"n"',
                                          {"type": "string", "pattern": '^(W/)?"[0-9]+"$'},
                                          location="header"),)),
]
