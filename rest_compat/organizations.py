"""/api/organizations: facilities, laboratories and ministries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from resolvers.directory.model import OrganizationDraft
from resolvers.directory.organizations import READ_ROLES, WRITE_ROLES
from rest_compat.envelope import ok
from rest_compat.models import OrganizationBody, OrganizationPage, OrganizationView, page_cursor
from rest_compat.request_context import caller, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route


async def list_organizations(request: Request) -> Response:
    who = caller(request)  # authenticate before judging the parameters: 401 beats 422
    limit = query_int(request, "limit", 50)
    found = await services(request).organizations.search(
        who, name=request.query_params.get("name") or None,
        after=request.query_params.get("cursor") or None, limit=limit)
    return ok(OrganizationPage(items=[OrganizationView.of(o) for o in found],
                               next_cursor=page_cursor(found, limit)))


async def create_organization(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, OrganizationBody)
    org = await services(request).organizations.create(who, OrganizationDraft(
        name=body.name, identifiers=tuple(i.to_domain() for i in body.identifiers),
        country=body.country, kind=body.kind, part_of=body.part_of))
    return ok(OrganizationView.of(org), status=201,
              headers={"Location": f"/api/organizations/{org.id}"})


async def get_organization(request: Request) -> Response:
    org = await services(request).organizations.get(caller(request),
                                                    request.path_params["organization_id"])
    return ok(OrganizationView.of(org))


operations: list[Operation] = [
    api_route("GET", "/api/organizations", list_organizations, summary="Search organizations",
              tag="organizations", roles=tuple(r.value for r in READ_ROLES),
              response_model=OrganizationPage, error_statuses=(422,), params=(
                  QueryParam("name", "Part of the name, case-insensitive"),
                  QueryParam("cursor", "next_cursor of the previous page"),
                  QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                    "maximum": 200, "default": 50}))),
    api_route("POST", "/api/organizations", create_organization, summary="Create an organization",
              tag="organizations", roles=tuple(r.value for r in WRITE_ROLES),
              request_model=OrganizationBody, response_model=OrganizationView, success_status=201,
              error_statuses=(400, 413, 415, 422)),
    api_route("GET", "/api/organizations/{organization_id}", get_organization,
              summary="Read an organization", tag="organizations",
              roles=tuple(r.value for r in READ_ROLES), response_model=OrganizationView,
              params=(QueryParam("organization_id", "Organization id", location="path",
                                 required=True),), error_statuses=(404,)),
]
