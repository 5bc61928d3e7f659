"""/api/surveillance/export/dhis2: syndromic alerts (EARS) as DHIS2 tracker events and IDSR
counts as a dataValueSet, both through the outbox. Role public_health (or admin)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.public_health.dhis2.export import NotConfigured
from rest_compat.envelope import ok
from rest_compat.public_health import PushView, _view
from rest_compat.request_context import caller, parse_body, services
from rest_compat.spec import Operation, api_route


class SurveillanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(min_length=1, max_length=32,
                        description="A DHIS2 period: a day (20260310) or a week (2026W11), ...")
    org_unit: str | None = Field(default=None, max_length=64,
                                 description="A DHIS2 org unit UID of the mapping (or our "
                                 "Organization id); absent: every mapped org unit")
    dhis2_url: str | None = Field(default=None, max_length=500,
                                  description="A configured DHIS2 instance; absent: the first")


class AlertView(BaseModel):
    org_unit: str
    syndrome: str
    day: date
    cases: int
    expected: float = Field(description="The baseline mean")
    statistic: float = Field(description="The EARS statistic (C1, C2 > 3; C3 > 2 alerts)")
    method: str


class SurveillanceView(BaseModel):
    period: str
    method: str = Field(description="The EARS method of the mapping: C1, C2 or C3")
    alerts: list[AlertView]
    events_push: PushView | None = Field(description="The tracker events push; null: no alert")
    data_values_push: PushView | None = Field(
        description="The IDSR dataValueSet push; null when the period is not of the IDSR "
        "data set's period type")


async def export(request: Request) -> Response:
    body = await parse_body(request, SurveillanceBody)
    use_case = services(request).public_health.surveillance
    if use_case is None:
        raise NotConfigured("syndromic surveillance is not configured")
    found = await use_case.export(caller(request), period=body.period,
                                  org_unit=body.org_unit or None,
                                  dhis2_url=body.dhis2_url or None)
    return ok(SurveillanceView(
        period=found.period.id, method=found.method,
        alerts=[AlertView(org_unit=a.org_unit, syndrome=a.syndrome, day=a.day, cases=a.cases,
                          expected=round(a.expected, 2), statistic=round(a.statistic, 2),
                          method=a.method) for a in found.alerts],
        events_push=_view(found.events) if found.events else None,
        data_values_push=_view(found.data_values) if found.data_values else None), 202)


operations: list[Operation] = [
    api_route("POST", "/api/surveillance/export/dhis2", export, tag="public-health",
              summary="Syndromic alerts (EARS) to DHIS2 as tracker events and IDSR counts as "
              "a dataValueSet, through the outbox (202 with both pushes)",
              roles=("public_health",), request_model=SurveillanceBody,
              response_model=SurveillanceView, success_status=202,
              error_statuses=(400, 404, 413, 415, 422, 502)),
]
