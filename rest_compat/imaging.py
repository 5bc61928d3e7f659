"""DICOM imaging routes: study access (a signed viewer URL and an ImagingStudy), annotations,
and the viewer's proxy (WADO-RS, QIDO-RS and WADO-URI for the token's study only).

The proxy's routes are public in the router's sense: the signed token in their path is the
credential (a viewer cannot put a bearer header on every frame request). Their bytes are
streamed from the PACS as they come, with the PACS's content type (multipart/related for
WADO-RS); only DICOM JSON is read whole, to put the gateway's URLs in place of the PACS's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from resolvers.imaging.ports import PacsAnswer
from resolvers.principal import Role
from rest_compat.envelope import JSONResponse, ok
from rest_compat.imaging_models import (
    AccessAnswer,
    AccessBody,
    AnnotateAnswer,
    AnnotateBody,
    AnnotationList,
    AnnotationView,
)
from rest_compat.request_context import caller, parse_body, query_int, request_id, services
from rest_compat.spec import Endpoint, Operation, QueryParam, api_route

TAG = "imaging"
CLINICIAN = (Role.CLINICIAN.value,)
NO_STORE = {"Cache-Control": "private, no-store"}
VIEWER = "/api/clinical/dicom/viewer/{token}"


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def access(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, AccessBody)
    view = await services(request).imaging.access.access(
        who, body.study_uid, body.patient_id, base_url=_base_url(request))
    return ok(AccessAnswer.of(view), headers=NO_STORE)


async def annotate(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, AnnotateBody)
    versions = await services(request).imaging.annotations.annotate(
        who, body.study_uid, [a.to_domain() for a in body.annotations])
    return ok(AnnotateAnswer(study_uid=body.study_uid,
                             annotations=[AnnotationView.of(v) for v in versions]), status=201)


async def list_annotations(request: Request) -> Response:
    page = await services(request).imaging.annotations.page(
        caller(request), request.path_params["study_uid"],
        after=request.query_params.get("cursor") or None,
        limit=query_int(request, "limit", 50, maximum=200),
        all_versions=request.query_params.get("versions") == "all")
    return ok(AnnotationList.of(page))


async def _streamed(opened: AbstractAsyncContextManager[PacsAnswer]) -> Response:
    """The PACS's answer passed on as it streams; the upstream response closes when the
    viewer's has been sent (or the viewer went away)."""
    stack = AsyncExitStack()
    answer = await stack.enter_async_context(opened)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.chunks():
                yield chunk
        finally:
            await stack.aclose()

    headers = dict(NO_STORE)
    if answer.content_type:
        headers["Content-Type"] = answer.content_type
    return StreamingResponse(body(), status_code=answer.status, headers=headers)


def _dicomweb(tail: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        path = tail.format(**request.path_params)
        root = services(request).imaging.access.root(token, _base_url(request))
        opened = await services(request).imaging.proxy.dicomweb(
            token, path, list(request.query_params.multi_items()),
            request.headers.get("accept"), request_id(request), public_root=f"{root}/dicomweb")
        return await _streamed(opened)
    return endpoint


async def wado_uri(request: Request) -> Response:
    opened = await services(request).imaging.proxy.wado_uri(
        request.path_params["token"], list(request.query_params.multi_items()),
        request_id(request))
    return await _streamed(opened)


async def ohif_datasource(request: Request) -> Response:
    """OHIF v3's ``dicomwebproxy`` data source reads its DICOMweb server from this."""
    token = request.path_params["token"]
    found = services(request)
    found.imaging.proxy.grant(token)  # 403 for a token that is not (or no longer) valid
    root = found.imaging.access.root(token, _base_url(request))
    return JSONResponse({"servers": {"dicomWeb": [{
        "name": "cari-gateway", "wadoUriRoot": f"{root}/wado",
        "qidoRoot": f"{root}/dicomweb", "wadoRoot": f"{root}/dicomweb",
        "qidoSupportsIncludeField": False, "imageRendering": "wadors",
        "thumbnailRendering": "wadors", "enableStudyLazyLoad": True,
        "supportsFuzzyMatching": False, "supportsWildcard": False}]}},
        headers={**NO_STORE, "Access-Control-Allow-Origin": "*"})


# -- declarations --------------------------------------------------------------------------

_TOKEN = QueryParam("token", "The signed viewer token from the access answer",
                    location="path", required=True)
_STUDY = QueryParam("study_uid", "Study Instance UID", location="path", required=True)


def _path(name: str, what: str) -> QueryParam:
    return QueryParam(name, what, location="path", required=True)


_DICOMWEB_ANSWER = {"200": {"description": "The PACS's answer, streamed", "content": {
    "application/dicom+json": {"schema": {}}, "multipart/related": {"schema": {}},
    "application/dicom": {"schema": {}}, "image/jpeg": {"schema": {}},
    "image/png": {"schema": {}}, "application/json": {"schema": {}}}},
    "204": {"description": "QIDO-RS: nothing matched"}}
# WADO-RS and QIDO-RS resources below the DICOMweb root (PS3.18 10.4, 10.6): path template,
# then the path parameters it names beyond the token.
_DICOMWEB: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    ("studies", ()),
    ("studies/{study}", (("study", "Study Instance UID"),)),
    ("studies/{study}/metadata", (("study", "Study Instance UID"),)),
    ("studies/{study}/rendered", (("study", "Study Instance UID"),)),
    ("studies/{study}/series", (("study", "Study Instance UID"),)),
    ("studies/{study}/series/{series}", (("study", "Study"), ("series", "Series UID"))),
    ("studies/{study}/series/{series}/metadata", (("study", "Study"), ("series", "Series"))),
    ("studies/{study}/series/{series}/rendered", (("study", "Study"), ("series", "Series"))),
    ("studies/{study}/series/{series}/instances", (("study", "Study"), ("series", "Series"))),
    ("studies/{study}/series/{series}/instances/{instance}",
     (("study", "Study"), ("series", "Series"), ("instance", "SOP Instance UID"))),
    ("studies/{study}/series/{series}/instances/{instance}/metadata",
     (("study", "Study"), ("series", "Series"), ("instance", "SOP Instance UID"))),
    ("studies/{study}/series/{series}/instances/{instance}/rendered",
     (("study", "Study"), ("series", "Series"), ("instance", "SOP Instance UID"))),
    ("studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
     (("study", "Study"), ("series", "Series"), ("instance", "SOP Instance UID"),
      ("frames", "Frame numbers, comma-separated"))),
]
PROXY_ERRORS = (403, 404, 502)


def _proxy_route(tail: str, params: tuple[tuple[str, str], ...]) -> Operation:
    return api_route("GET", f"{VIEWER}/dicomweb/{tail}", _dicomweb(tail),
                     summary=f"DICOMweb {tail.split('/')[-1]} of the token's study (viewer "
                     "proxy; the token is the credential)", tag=TAG, envelope=False,
                     raw_responses=_DICOMWEB_ANSWER, error_statuses=PROXY_ERRORS,
                     params=(_TOKEN, *(_path(n, d) for n, d in params)))


_ACCESS_DOC = ("Checks that the study is in the PACS and is the patient's (PatientID against "
               "the MPI identifiers); answers a signed, expiring viewer URL for that study "
               "only and a FHIR ImagingStudy. 404: no such study of that patient (also when "
               "it is another patient's). 502: the PACS is down, refused, or timed out.")
WADO_PARAMS = tuple(QueryParam(n, d) for n, d in (
    ("requestType", "WADO"), ("studyUID", "Study Instance UID (the token's)"),
    ("seriesUID", "Series Instance UID"), ("objectUID", "SOP Instance UID"),
    ("contentType", "application/dicom or image/jpeg")))

operations: list[Operation] = [
    api_route("POST", "/api/clinical/dicom/access", access, summary=_ACCESS_DOC, tag=TAG,
              roles=CLINICIAN, request_model=AccessBody, response_model=AccessAnswer,
              error_statuses=(404, 413, 415, 422, 502)),
    api_route("POST", "/api/clinical/dicom/annotate", annotate, summary="Store annotations "
              "(measurements, regions, text) on an accessed study; an existing id gets a new "
              "version. The DICOM SR for the PACS is queued (sr_state pending): a PACS outage "
              "delays it and loses nothing", tag=TAG, roles=CLINICIAN,
              request_model=AnnotateBody, response_model=AnnotateAnswer, success_status=201,
              error_statuses=(404, 409, 413, 415, 422)),
    api_route("GET", "/api/clinical/dicom/studies/{study_uid}/annotations", list_annotations,
              summary="A study's annotations (latest versions, or every version with "
              "versions=all), paged", tag=TAG, roles=CLINICIAN, response_model=AnnotationList,
              error_statuses=(404, 422), params=(
                  _STUDY, QueryParam("cursor", "next_cursor of the previous page"),
                  QueryParam("limit", "Page size (1-200, default 50)",
                             {"type": "integer", "minimum": 1, "maximum": 200}),
                  QueryParam("versions", "all: every version", {"enum": ["all", "latest"]}))),
    *(_proxy_route(tail, params) for tail, params in _DICOMWEB),
    api_route("GET", f"{VIEWER}/wado", wado_uri, summary="WADO-URI of an instance of the "
              "token's study (viewer proxy)", tag=TAG, envelope=False,
              raw_responses=_DICOMWEB_ANSWER, error_statuses=PROXY_ERRORS,
              params=(_TOKEN, *WADO_PARAMS)),
    api_route("GET", f"{VIEWER}/ohif-datasource.json", ohif_datasource, summary="The OHIF "
              "dicomwebproxy data source for the token's study", tag=TAG, envelope=False,
              error_statuses=(403,), params=(_TOKEN,), raw_responses={"200": {
                  "description": "OHIF data source", "content": {"application/json": {
                      "schema": {"type": "object"}}}}}),
]
