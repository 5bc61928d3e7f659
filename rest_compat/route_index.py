"""The REST routes as one router entry that looks up a request's candidates by path prefix.

Starlette's router tries its routes in order, a regular expression each, and the gateway
has 116 REST routes: a request for ``/api/patients/{id}/lab-results`` was tried against
the routes ahead of it, about a twentieth of that read. Here the routes are grouped by
their first two path segments; a request is tried only against its group and the routes
whose first segments hold a parameter (``/cds-services/{service_id}``), in the original
order, so the first full match, and the first partial one (a 405), are the ones the
router would have found.

The router adds this entry's ``child_scope`` to the request's scope, and ``"route"`` in it
replaces this entry with the matched route, so ``scope["route"]`` stays the route that
serves the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The helper Route.matches reads a request's path with (root_path taken off): the index
# must key requests exactly as the routes match them.
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

Key = tuple[str, ...]


def _key(path: str) -> Key:
    """The first two segments of a path ('/api/patients/x' gives ('api', 'patients'))."""
    return tuple(path.split("/", 3)[1:3])


class RouteIndex(BaseRoute):
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)
        keyed: dict[Key, list[int]] = {}
        anywhere: list[int] = []  # a parameter in the first two segments: tried for all
        for n, route in enumerate(self.routes):
            key = _key(route.path)
            if any("{" in segment for segment in key):
                anywhere.append(n)
            else:
                keyed.setdefault(key, []).append(n)
        self._anywhere = [self.routes[n] for n in anywhere]
        self._by_key = {key: [self.routes[n] for n in sorted([*found, *anywhere])]
                        for key, found in keyed.items()}

    def _candidates(self, scope: Scope) -> list[Route]:
        return self._by_key.get(_key(get_route_path(scope)), self._anywhere)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] | None = None
        for route in self._candidates(scope):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return match, {**child_scope, "route": route}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child_scope, "route": route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get("route")
        if route is None or route is self:  # called without matches(): not ours to guess
            raise RuntimeError("RouteIndex.handle needs the scope its matches() gave")
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)
