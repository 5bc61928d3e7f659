"""/api/public-health: the DHIS2 export (dataValueSets JSON or CSV) and pushes through the
outbox. Role public_health (or admin)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.public_health.dhis2.export import CSV_COLUMNS, csv_rows, document
from resolvers.public_health.dhis2.model import ImportStrategy, PushRecord
from rest_compat.envelope import ok
from rest_compat.request_context import caller, parse_body, services
from rest_compat.spec import Operation, QueryParam, api_route

_ROLES = ("public_health",)


class PushBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dhis2_url: str = Field(min_length=1, max_length=500,
                           description="The URL of a DHIS2 instance configured on the gateway")
    dataset: str = Field(min_length=1, max_length=64,
                         description="A data set of the mapping (our key or its DHIS2 UID)")
    period: str | None = Field(default=None, max_length=32,
                               description="A DHIS2 period; absent: the last complete one")
    org_unit: str | None = Field(default=None, max_length=64,
                                 description="A DHIS2 org unit UID of the mapping (or our "
                                 "Organization id); absent: every mapped org unit")
    dryRun: bool = Field(default=False, description="DHIS2 validates and saves nothing")
    importStrategy: Literal["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"] = Field(
        default="CREATE_AND_UPDATE")


class ConflictView(BaseModel):
    object: str | None
    value: str
    error_code: str | None
    property: str | None
    indexes: list[int]


class ImportCountView(BaseModel):
    imported: int
    updated: int
    ignored: int
    deleted: int


class SummaryView(BaseModel):
    status: str
    http_status: int
    description: str | None
    import_count: ImportCountView
    conflicts: list[ConflictView]


class PushView(BaseModel):
    id: str
    state: Literal["queued", "retrying", "success", "partial", "dead"]
    dhis2_url: str
    dataset: str
    period: str
    org_unit: str | None
    dry_run: bool
    import_strategy: str
    attempts: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_error: str | None = Field(description="Why the last attempt failed (retrying, dead)")
    summary: SummaryView | None = Field(description="DHIS2's import summary, once answered")
    data_value_set: dict[str, Any] = Field(description="The dataValueSet sent")


class NationalRow(BaseModel):
    unit: str = Field(description="The Organization id (facility, district or region)")
    name: str
    cells: dict[str, int | None] = Field(description="Counts; null where suppressed")
    total: int | None = Field(description="The row total; null only when held back")


class NationalSuppression(BaseModel):
    unit: str
    column: str
    reason: Literal["primary", "complementary"]
    protects: str | None = Field(description="complementary: the row or column it protects")


class NationalTable(BaseModel):
    name: str
    columns: list[str]
    rows: list[NationalRow]
    column_totals: dict[str, int | None]
    suppressed: list[NationalSuppression]
    suppressed_totals: list[str]


class NationalDatasetView(BaseModel):
    period: str
    start: date
    end: date = Field(description="Exclusive")
    level: Literal["facility", "district", "region"]
    threshold: int = Field(description="Cells from 1 to threshold - 1 are suppressed")
    tables: list[NationalTable]


def _view(p: PushRecord) -> PushView:
    return PushView(
        id=p.id, state=p.state.value, dhis2_url=p.instance_url, dataset=p.data_set,
        period=p.period, org_unit=p.org_unit, dry_run=p.dry_run,
        import_strategy=p.import_strategy.value, attempts=p.attempts, created_by=p.created_by,
        created_at=p.created_at, updated_at=p.updated_at, last_error=p.last_error,
        summary=SummaryView.model_validate(p.summary) if p.summary else None,
        data_value_set=p.payload)


async def export(request: Request) -> Response:
    q = request.query_params
    parts = await services(request).public_health.dhis2_export.export(
        caller(request), q.get("dataset") or None, q.get("period") or None,
        q.get("org_unit") or None)
    if "text/csv" in request.headers.get("accept", ""):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(parts))
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    return Response(json.dumps(document(parts), separators=(",", ":")),
                    media_type="application/json")


async def push(request: Request) -> Response:
    body = await parse_body(request, PushBody)
    done = await services(request).public_health.dhis2_pushes.push(
        caller(request), dhis2_url=body.dhis2_url, data_set=body.dataset, period=body.period,
        org_unit=body.org_unit, dry_run=body.dryRun,
        strategy=ImportStrategy(body.importStrategy))
    return ok(_view(done), 202)


async def push_state(request: Request) -> Response:
    found = await services(request).public_health.dhis2_pushes.get(
        caller(request), request.path_params["push_id"])
    return ok(_view(found))


async def national_dataset(request: Request) -> Response:
    q = request.query_params
    found = await services(request).public_health.national.dataset(
        caller(request), q.get("period") or None, q.get("level"))  # level= is not absent
    return ok(NationalDatasetView.model_validate(asdict(found)))


class MissingEntryView(BaseModel):
    kind: Literal["dataSets", "dataElements", "categoryOptionCombos", "organisationUnits",
                  "programs", "programStages"]
    uid: str
    where: str = Field(description="The entry's place in the mapping file")


class MetadataReportView(BaseModel):
    dhis2_url: str
    checked: dict[str, int] = Field(description="How many ids DHIS2 listed, by kind")
    missing: list[MissingEntryView] = Field(description="Mapping entries pointing at nothing")


async def metadata_check(request: Request) -> Response:
    found = await services(request).public_health.metadata_check.check(
        caller(request), request.query_params.get("dhis2_url") or None)
    return ok(MetadataReportView.model_validate(asdict(found)))


_DOCUMENT = {"type": "object", "properties": {
    "dataSet": {"type": "string"}, "period": {"type": "string"},
    "orgUnit": {"type": "string"}, "completeDate": {"type": "string"},
    "dataValues": {"type": "array", "items": {"type": "object", "required": [
        "dataElement", "value"], "properties": {
        "dataElement": {"type": "string"}, "categoryOptionCombo": {"type": "string"},
        "period": {"type": "string"}, "orgUnit": {"type": "string"},
        "value": {"type": "string"}}}}},
    "required": ["dataValues"]}

operations: list[Operation] = [
    api_route("GET", "/api/public-health/dhis2-export", export, tag="public-health",
              summary="Indicators as a DHIS2 dataValueSets document (JSON, or CSV with "
              "Accept: text/csv)", roles=_ROLES, envelope=False,
              raw_responses={"200": {"description": "A DHIS2 dataValueSets document",
                                     "content": {"application/json": {"schema": _DOCUMENT},
                                                 "text/csv": {"schema": {"type": "string"}}}}},
              error_statuses=(404, 422, 502), params=(
                  QueryParam("dataset", "A data set of the mapping (key or DHIS2 UID); "
                             "absent: every data set"),
                  QueryParam("period", "A DHIS2 period of the data set's type (2026W3, "
                             "202601, 2026Q1, ...); absent: the last complete one"),
                  QueryParam("org_unit", "A DHIS2 org unit UID of the mapping; absent: all"))),
    api_route("POST", "/api/public-health/dhis2-push", push, tag="public-health",
              summary="Push a dataValueSet to a configured DHIS2 instance through the outbox "
              "(202 with the push)", roles=_ROLES, request_model=PushBody,
              response_model=PushView, success_status=202,
              error_statuses=(400, 404, 413, 415, 422, 502)),
    api_route("GET", "/api/public-health/dhis2-push/{push_id}", push_state, tag="public-health",
              summary="A DHIS2 push: state, DHIS2's counts and each conflict", roles=_ROLES,
              response_model=PushView, error_statuses=(404,), params=(
                  QueryParam("push_id", "The push id", location="path", required=True),)),
    api_route("GET", "/api/public-health/dhis2/metadata-check", metadata_check,
              tag="public-health", summary="Check the mapping against a configured DHIS2 "
              "instance's metadata: every entry pointing at nothing", roles=_ROLES,
              response_model=MetadataReportView, error_statuses=(422, 502), params=(
                  QueryParam("dhis2_url", "A configured instance (default: the first)"),)),
    api_route("GET", "/api/public-health/national-dataset", national_dataset,
              tag="public-health", summary="Aggregate, anonymised counts by facility, district "
              "or region, small cells suppressed (with the reason of each)", roles=_ROLES,
              response_model=NationalDatasetView, error_statuses=(422,), params=(
                  QueryParam("period", "A DHIS2 period (2026W10, 202603, 2026Q1, 2026, ...); "
                             "absent: the last complete month"),
                  QueryParam("level", "facility (default), district or region",
                             {"type": "string", "enum": ["facility", "district", "region"]}))),
]
