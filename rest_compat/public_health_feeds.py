"""/api/public-health/indicators: dashboard feeds (issue 14, use case 6). An indicator as a
JSON time series (strong ETag, Cache-Control, 304 to a matching If-None-Match) and as a FHIR
R4 MeasureReport; and the import of DHIS2's org unit hierarchy into Organizations. Role
public_health (or admin)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import NotFound
from resolvers.public_health.dashboard import SERIES_TYPES, IndicatorFeeds
from rest_compat.envelope import ok
from rest_compat.request_context import caller, services
from rest_compat.spec import Operation, QueryParam, api_route

_ROLES = ("public_health",)
CACHE_CONTROL = "private, max-age=300"


class PointView(BaseModel):
    period: str = Field(description="The DHIS2 period id")
    start: date
    end: date = Field(description="Exclusive")
    value: float | int | None = Field(description="The indicator; null: a rate over 0")
    numerator: int
    denominator: int | None = Field(description="Rates only")


class SeriesView(BaseModel):
    indicator: str
    name: str
    value_type: str
    org_unit: str | None
    period_type: str
    points: list[PointView]


def _feeds(request: Request) -> IndicatorFeeds:
    found = services(request).public_health.feeds
    if found is None:
        raise NotFound("dashboard feeds are not configured")
    return found


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


async def series(request: Request) -> Response:
    q = request.query_params
    found = await _feeds(request).series(
        caller(request), request.path_params["code"], q.get("org_unit") or None,
        q.get("from") or None, q.get("to") or None, q.get("period_type") or None)
    response = ok(SeriesView.model_validate(asdict(found)))
    etag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


class ImportedUnitView(BaseModel):
    uid: str = Field(description="The DHIS2 org unit UID")
    organization_id: str
    name: str
    kind: Literal["facility", "district", "region"]
    part_of: str | None
    outcome: Literal["created", "updated", "unchanged"]


class OrgUnitImportView(BaseModel):
    dhis2_url: str
    created: int
    updated: int
    unchanged: int
    units: list[ImportedUnitView]


async def import_org_units(request: Request) -> Response:
    found = services(request).public_health.org_units
    if found is None:
        raise NotFound("the org unit import is not configured")
    report = await found.run(caller(request), request.query_params.get("dhis2_url") or None,
                             services(request).organizations)
    return ok(OrgUnitImportView.model_validate(asdict(report)))


async def measure_report(request: Request) -> Response:
    q = request.query_params
    report = await _feeds(request).measure_report(
        caller(request), request.path_params["code"], q.get("org_unit") or None,
        q.get("period") or None)
    return Response(json.dumps(report, separators=(",", ":")),
                    media_type="application/fhir+json")


_CODE = QueryParam("code", "An indicator code (MAL_RDT_TESTED, IDSR_MALARIA, IMM_PENTA3, "
                   "MCH_ANC1, ...; not a coverage indicator)", location="path", required=True)
_ORG = QueryParam("org_unit", "A DHIS2 org unit UID of the mapping, or an Organization id: "
                  "it and every Organization under it (part_of); absent: every facility")
_MEASURE_REPORT = {"type": "object", "required": ["resourceType", "status", "type", "period"],
                   "properties": {"resourceType": {"type": "string", "enum": ["MeasureReport"]},
                                  "status": {"type": "string"}, "type": {"type": "string"},
                                  "measure": {"type": "string"},
                                  "period": {"type": "object"}, "group": {"type": "array"}}}

operations: list[Operation] = [
    api_route("GET", "/api/public-health/indicators/{code}/series", series,
              tag="public-health", summary="An indicator as a time series (dashboard feed; "
              "strong ETag, Cache-Control, 304 to If-None-Match)", roles=_ROLES,
              response_model=SeriesView, error_statuses=(404, 422), params=(
                  _CODE, _ORG,
                  QueryParam("from", "First day (YYYY-MM-DD); absent: 11 periods before to",
                             {"type": "string", "format": "date"}),
                  QueryParam("to", "Last day (YYYY-MM-DD); absent: today",
                             {"type": "string", "format": "date"}),
                  QueryParam("period_type", "Monthly (default), Weekly, Quarterly or Yearly",
                             {"type": "string", "enum": list(SERIES_TYPES)})),
              request_headers=(QueryParam("If-None-Match", "The ETag of a series read before",
                                          location="header"),)),
    api_route("GET", "/api/public-health/indicators/{code}/measure-report", measure_report,
              tag="public-health", summary="An indicator for one period as a FHIR R4 "
              "MeasureReport (summary)", roles=_ROLES, envelope=False,
              raw_responses={"200": {"description": "A FHIR MeasureReport", "content": {
                  "application/fhir+json": {"schema": _MEASURE_REPORT}}}},
              error_statuses=(404, 422), params=(
                  _CODE, _ORG,
                  QueryParam("period", "A DHIS2 period (2026W10, 202603, 2026Q1, 2026, ...); "
                             "absent: the last complete month"))),
    api_route("POST", "/api/public-health/dhis2/org-units/import", import_org_units,
              tag="public-health", summary="Import DHIS2's org unit hierarchy into the "
              "directory's Organizations (part_of, the UID as an identifier; idempotent)",
              roles=_ROLES, response_model=OrgUnitImportView, error_statuses=(422, 502),
              params=(QueryParam("dhis2_url", "A configured instance (default: the first)"),)),
]
