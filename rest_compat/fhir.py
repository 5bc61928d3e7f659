"""/api/fhir: the FHIR R4 REST API (application/fhir+json), errors as OperationOutcome."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import InvalidInput
from resolvers.fhir.errors import problem
from resolvers.fhir.issues import operation_outcome
from resolvers.fhir.model import SearchPage, StoredResource
from resolvers.fhir.search import parse_search
from rest_compat.body import read_body
from rest_compat.envelope import FHIR_JSON as FHIR_MEDIA_TYPE
from rest_compat.envelope import fhir_json
from rest_compat.json_input import JsonInputError, decode_json
from rest_compat.request_context import caller, if_match_version, services
from rest_compat.spec import Operation, QueryParam, api_route

MAX_FHIR_BODY = 10 * 1_048_576
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def _check_format(request: Request) -> None:
    wanted = request.query_params.get("_format") or request.headers.get("accept") or ""
    if wanted and not any(t in wanted for t in ("json", "*/*", "application/*")) and \
            wanted not in ("html", "text/html"):
        raise problem(406, "not-supported", f"this server answers application/fhir+json only, "
                      f"not {wanted!r}")


async def _body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise problem(415, "not-supported", "send the resource as application/fhir+json")
    raw = await read_body(request, MAX_FHIR_BODY, lambda limit: problem(
        413, "too-long", f"the body is larger than {limit} bytes"))
    try:
        return decode_json(raw)
    except JsonInputError as exc:
        raise problem(400, "structure", exc.message,
                      None if exc.field == "body" else exc.field) from None


def _headers(stored: StoredResource, base: str) -> dict[str, str]:
    return {"ETag": stored.etag,
            "Last-Modified": stored.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Location": f"{base}/{stored.resource_type}/{stored.id}/_history/{stored.version}"}


def _base(request: Request) -> str:
    return f"{request.app.state.settings.public_base_url}/api/fhir"


def _representation(request: Request, stored: StoredResource, status: int) -> Response:
    prefer = request.headers.get("prefer", "")
    headers = _headers(stored, _base(request))
    if "return=minimal" in prefer:
        return Response(status_code=status, headers=headers)
    if "return=OperationOutcome" in prefer:
        return fhir_json(operation_outcome([]), status, headers)
    return fhir_json(stored.document, status, headers)


def _if_match(request: Request) -> int | None:
    try:
        return if_match_version(request)
    except ValueError as exc:
        raise problem(400, "invalid", str(exc)) from None


async def metadata(request: Request) -> Response:
    _check_format(request)
    return fhir_json(request.app.state.capability_statement)


async def validate_any(request: Request) -> Response:
    who = caller(request)
    body = await _body(request)
    await services(request).fhir.smart.check_validate(who, None, _unwrap(body))
    return fhir_json(operation_outcome(services(request).fhir.validate(None, _unwrap(body))))


async def validate_type(request: Request) -> Response:
    who = caller(request)
    body = await _body(request)
    await services(request).fhir.smart.check_validate(who, request.path_params["type"], body)
    issues = services(request).fhir.validate(request.path_params["type"], _unwrap(body))
    return fhir_json(operation_outcome(issues))


def _unwrap(body: Any) -> Any:
    """$validate accepts the resource itself or Parameters with a ``resource`` part; what is
    not a JSON object is no resource at all (400), anything else gets its OperationOutcome."""
    if not isinstance(body, dict):
        raise problem(400, "structure", f"expected a FHIR resource (a JSON object), not "
                      f"{type(body).__name__}")
    if body.get("resourceType") == "Parameters":
        for part in body.get("parameter") or []:
            if isinstance(part, dict) and part.get("name") == "resource":
                return part.get("resource")
    return body


async def patient_match(request: Request) -> Response:
    who = caller(request)
    body = await _body(request)
    return fhir_json(await services(request).patient_match.match(who, body))


async def transaction_or_batch(request: Request) -> Response:
    who = caller(request)
    body = await _body(request)
    kind = body.get("type") if isinstance(body, dict) else None
    bundles = services(request).bundles
    if kind == "transaction":
        return fhir_json(await bundles.transaction(who, body))
    if kind == "batch":
        return fhir_json(await bundles.batch(who, body))
    raise problem(400, "value", "POST to the base needs a Bundle of type transaction or batch",
                  "Bundle.type")


def _search_bundle(request: Request, resource_type: str, page: SearchPage, count: int,
                   offset: int, applied: tuple[tuple[str, str], ...]) -> bytes:
    base = _base(request)

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*applied, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{base}/{resource_type}?{query}"}

    links = [link("self", offset)]
    if offset + count < page.total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    head = _dumps({"resourceType": "Bundle", "type": "searchset", "total": page.total,
                   "link": links})
    # The documents go out as stored (their JSON text spliced in, neither decoded nor encoded
    # again: that was the largest cost of a search); "entry" stays the last member.
    found = ([(m.resource_type, m.id, m.text) for m in page.matches] if page.matches is not None
             else [(r.resource_type, r.id, _dumps(r.document)) for r in page.resources])
    entries = ",".join(
        f'{{"fullUrl":{_dumps(f"{base}/{rt}/{rid}")},'
        f'"resource":{text},"search":{{"mode":"match"}}}}'
        for rt, rid, text in found)
    return f'{head[:-1]},"entry":[{entries}]}}'.encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _search(request: Request, pairs: list[tuple[str, str]]) -> Response:
    who = caller(request)
    _check_format(request)
    resource_type = request.path_params["type"]
    strict = "handling=strict" in request.headers.get("prefer", "")
    try:
        search = parse_search(resource_type, pairs, strict=strict)
    except InvalidInput as exc:  # a FHIR caller gets a 400 OperationOutcome
        raise problem(400, "invalid", exc.message) from None
    page = await services(request).fhir.search(who, search)
    return Response(_search_bundle(request, resource_type, page, search.count, search.offset,
                                   search.applied), media_type=FHIR_MEDIA_TYPE)


async def search_type(request: Request) -> Response:
    return await _search(request, list(request.query_params.multi_items()))


async def search_post(request: Request) -> Response:
    caller(request)  # 401 before 415
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise problem(415, "not-supported", "_search takes application/x-www-form-urlencoded")
    raw = await read_body(request, MAX_FHIR_BODY, lambda limit: problem(
        413, "too-long", f"the body is larger than {limit} bytes"))
    form = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return await _search(request, [*request.query_params.multi_items(), *form])


async def create(request: Request) -> Response:
    who = caller(request)
    body = await _body(request)
    result = await services(request).fhir.create(
        who, request.path_params["type"], body,
        if_none_exist=request.headers.get("if-none-exist"))
    return _representation(request, result.resource, result.status)


async def read(request: Request) -> Response:
    who = caller(request)
    _check_format(request)
    stored = await services(request).fhir.read(who, request.path_params["type"],
                                               request.path_params["id"])
    return fhir_json(stored.document, headers=_headers(stored, _base(request)))


async def update(request: Request) -> Response:
    who = caller(request)
    if_match = _if_match(request)
    body = await _body(request)
    result = await services(request).fhir.update(who, request.path_params["type"],
                                                 request.path_params["id"], body,
                                                 if_match=if_match)
    return _representation(request, result.resource, result.status)


async def delete(request: Request) -> Response:
    await services(request).fhir.delete(caller(request), request.path_params["type"],
                                        request.path_params["id"])
    return Response(status_code=204)


async def history(request: Request) -> Response:
    who = caller(request)
    _check_format(request)
    versions = await services(request).fhir.history(
        who, request.path_params["type"], request.path_params["id"])
    base = _base(request)
    entries = []
    for v in versions:
        entry: dict[str, Any] = {
            "fullUrl": f"{base}/{v.resource_type}/{v.id}",
            "request": {"method": "DELETE" if v.deleted else ("POST" if v.version == 1 else "PUT"),
                        "url": f"{v.resource_type}/{v.id}" if v.version > 1 else v.resource_type},
            "response": {"status": "204" if v.deleted else ("201" if v.version == 1 else "200"),
                         "etag": v.etag, "lastModified": v.last_updated.isoformat()}}
        if v.document:
            entry["resource"] = v.document
        entries.append(entry)
    return fhir_json({"resourceType": "Bundle", "type": "history", "total": len(entries),
                      "entry": entries})


async def vread(request: Request) -> Response:
    who = caller(request)
    _check_format(request)
    raw = request.path_params["vid"]
    # isdigit() alone accepts "²"; a version beyond the 32-bit column cannot exist (and
    # overflows the PostgreSQL driver).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > 2_147_483_647:
        raise problem(404, "not-found", f"no version {raw[:32]!r}")
    stored = await services(request).fhir.vread(who, request.path_params["type"],
                                                request.path_params["id"], int(raw))
    return fhir_json(stored.document, headers=_headers(stored, _base(request)))


async def mpi_patient_fhir(request: Request) -> Response:
    document, source = await services(request).patient_documents.fhir_patient(
        caller(request), request.path_params["patient_id"])
    return fhir_json(document, headers={"X-Cari-Source": source})


FHIR_JSON = {"application/fhir+json": {"schema": {"type": "object"}}}
_TYPE = QueryParam("type", "Resource type, e.g. Patient, Observation", location="path",
                   required=True)
_ID = QueryParam("id", "Logical id", location="path", required=True)
_ROLES = ("clinician", "integrator")


def _fhir(method: str, path: str, endpoint: Any, summary: str, status: int = 200,
          errors: tuple[int, ...] = (), params: tuple[QueryParam, ...] = (),
          roles: tuple[str, ...] | None = _ROLES, body: bool = False,
          headers: tuple[QueryParam, ...] = (), also: tuple[int, ...] = ()) -> Operation:
    responses: dict[str, Any] = {str(s): {"description": "Success", "content": FHIR_JSON}
                                 for s in (status, *also)}
    if status == 204:
        responses["204"] = {"description": "Deleted (or nothing to delete)"}
    if body:
        errors = (*errors, 400, 413, 415)
    return api_route(method, path, endpoint, summary=summary, tag="fhir", roles=roles,
                     envelope=False, raw_responses=responses, fhir=True, params=params,
                     error_statuses=errors, request_headers=headers,
                     request_body_schema={"application/fhir+json": {"schema": {"type": "object"}}}
                     if body else None)


operations: list[Operation] = [
    _fhir("GET", "/api/fhir/metadata", metadata, "CapabilityStatement", roles=None,
          errors=(406,)),
    _fhir("POST", "/api/fhir/$validate", validate_any, "Validate any resource ($validate)",
          body=True),
    _fhir("POST", "/api/fhir", transaction_or_batch, "Bundle transaction or batch", body=True,
          errors=(403, 404, 409, 412, 422)),
    _fhir("POST", "/api/fhir/Patient/$match", patient_match,
          "IHE PDQm $match: scored MPI candidates with match grades", body=True),
    _fhir("POST", "/api/fhir/{type}/$validate", validate_type, "Validate a resource ($validate)",
          params=(_TYPE,), body=True, errors=(404,)),
    _fhir("POST", "/api/fhir/{type}/_search", search_post, "Search (form-encoded POST)",
          params=(_TYPE,), errors=(400, 404, 406, 415)),
    _fhir("GET", "/api/fhir/{type}/{id}/_history/{vid}", vread, "Read a version (vread)",
          params=(_TYPE, _ID, QueryParam("vid", "Version id", location="path", required=True)),
          errors=(404, 406, 410)),
    _fhir("GET", "/api/fhir/{type}/{id}/_history", history, "History of a resource",
          params=(_TYPE, _ID), errors=(404, 406)),
    _fhir("GET", "/api/fhir/{type}/{id}", read, "Read a resource", params=(_TYPE, _ID),
          errors=(404, 406, 410)),
    _fhir("PUT", "/api/fhir/{type}/{id}", update, "Update (or create with this id)",
          status=200, also=(201,), params=(_TYPE, _ID), body=True, errors=(404, 409, 412, 422),
          headers=(QueryParam("If-Match", 'W/"version" for optimistic locking',
                              {"type": "string", "pattern": '^(W/)?"[0-9]+"$'},
                              location="header"),)),
    _fhir("DELETE", "/api/fhir/{type}/{id}", delete, "Delete a resource", status=204,
          params=(_TYPE, _ID), errors=(404,)),
    _fhir("GET", "/api/fhir/{type}", search_type, "Search", params=(
        _TYPE, QueryParam("_count", "Page size (max 200)", {"type": "integer", "minimum": 0}),
        QueryParam("_offset", "Paging offset", {"type": "integer", "minimum": 0}),
        QueryParam("_sort", "_id, _lastUpdated, date or birthdate; - for descending")),
        errors=(400, 404, 406)),
    _fhir("POST", "/api/fhir/{type}", create, "Create a resource (If-None-Exist for a "
          "conditional create)", status=201, also=(200,), params=(_TYPE,), body=True,
          errors=(404, 409, 412, 422),
          headers=(QueryParam("If-None-Exist", "Search criteria, e.g. identifier=sys|val",
                              location="header"),)),
    _fhir("GET", "/api/mpi/patients/{patient_id}/fhir", mpi_patient_fhir,
          "The FHIR Patient (from Medplum when configured, else the local store)",
          params=(QueryParam("patient_id", "Patient id", location="path", required=True),),
          errors=(404, 410, 502)),
]
