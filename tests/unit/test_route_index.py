"""RouteIndex picks the route Starlette's router would have picked from the flat list.

Every documented REST path is requested with each method (so full matches, 405 partial
matches and misses are all covered), with parameters filled in, with a trailing slash,
under a root path, and with unknown prefixes; the route chosen through the index must be
the one the router's own first-full-then-first-partial walk over the routes chooses.
Then one request goes through a whole app, to check the handler and ``scope["route"]``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Route

from rest_compat.route_index import RouteIndex
from rest_compat.routes import OPERATIONS
from rest_compat.spec import build_routes

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")


def _router_choice(routes: list[BaseRoute], scope: dict[str, Any]) -> tuple[Any, Any]:
    """What Starlette's Router.app does: first full match, else first partial."""
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return child.get("route", route), Match.FULL
        if match is Match.PARTIAL and partial is None:
            partial = child.get("route", route)
    return (partial, Match.PARTIAL) if partial is not None else (None, Match.NONE)


def _paths() -> list[str]:
    paths = set()
    for op in OPERATIONS:
        filled = re.sub(r"\{[^}]+\}", "x1", op.path)
        paths |= {op.path, filled, filled + "/", filled + "/extra", filled.rstrip("/") + "s"}
    return sorted(paths | {"/", "/nope", "/api", "/api/", "/api/unknown/x", "/cds-services",
                           "/cds-services/svc", "/cds-services/svc/feedback", "//api/fhir"})


@pytest.fixture(scope="module")
def flat() -> list[BaseRoute]:
    return list(build_routes(OPERATIONS))


@pytest.mark.parametrize("root_path", ["", "/gateway"])
def test_the_index_chooses_what_the_flat_routes_choose(flat: list[BaseRoute],
                                                       root_path: str) -> None:
    index: list[BaseRoute] = [RouteIndex(flat)]  # type: ignore[arg-type]
    checked = 0
    for path in _paths():
        for method in METHODS:
            scope = {"type": "http", "method": method, "path": root_path + path,
                     "root_path": root_path}
            assert _router_choice(index, scope) == _router_choice(flat, scope), (method, path)
            checked += 1
    assert checked > 600


def test_a_parameter_in_the_first_segments_is_tried_for_every_prefix() -> None:
    async def ok(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("")

    first = Route("/{tenant}/api/patients", ok, methods=["GET"])
    keyed = Route("/api/patients", ok, methods=["POST"])
    later = Route("/{tenant}/patients", ok, methods=["GET"])
    routes: list[BaseRoute] = [first, keyed, later]
    index: list[BaseRoute] = [RouteIndex([first, keyed, later])]
    for path in ("/t1/api/patients", "/api/patients", "/t1/patients", "/api/x"):
        for method in ("GET", "POST"):
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            assert _router_choice(index, scope) == _router_choice(routes, scope)


async def test_a_request_reaches_its_handler_with_its_route_in_scope() -> None:
    seen: dict[str, Any] = {}

    def endpoint(name: str) -> Any:
        async def handler(request: Request) -> PlainTextResponse:
            seen["route"] = request.scope["route"]
            return PlainTextResponse(f"{name} {request.path_params}")
        return handler

    one = Route("/api/patients/{patient_id}", endpoint("one"), methods=["GET"])
    two = Route("/api/labs/{lab_id}", endpoint("two"), methods=["GET"], name="lab")
    app = Starlette(routes=[RouteIndex([one, two])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        answer = await client.get("/api/labs/L9")
        assert (answer.status_code, answer.text) == (200, "two {'lab_id': 'L9'}")
        assert seen["route"] is two
        refused = await client.post("/api/patients/P1")
        assert refused.status_code == 405 and "GET" in refused.headers["allow"]
        assert (await client.get("/api/other/1")).status_code == 404
        assert app.url_path_for("lab", lab_id="L1") == "/api/labs/L1"
