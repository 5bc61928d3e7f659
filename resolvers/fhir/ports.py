"""Ports of the FHIR capability."""

from __future__ import annotations

from typing import Any, Protocol

from resolvers.fhir.issues import Issue


class ResourceValidator(Protocol):
    def validate(self, resource: Any, *, path: str | None = None) -> list[Issue]:
        """Every problem of ``resource`` (a parsed JSON value), not only the first.

        ``path`` prefixes the expressions when the resource sits inside another one, e.g.
        ``Bundle.entry[2].resource``; by default expressions start at the resource type.
        Structure (layer 1, the R4 definitions) and the documented rules (layer 2) are both
        checked. An empty list means valid. Never raises for bad input.
        """
        ...
