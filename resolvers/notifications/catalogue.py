"""The event catalogue: every type an endpoint may subscribe to, its version and JSON Schema.

The schemas live beside this module (``event_schemas/<type>.v<version>.json``) and are the
documentation integrators read (``GET /api/webhooks/event-types``); a test validates every
payload the gateway emits against them. A payload carries ids, types, statuses, versions and
timestamps only: never names, never result values (the subscriber reads those through the
audited routes its role allows).

Subscriptions name exact types or wildcards: ``*`` (everything), ``lab.*``, ``fhir.resource.*``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from resolvers.errors import InvalidInput
from resolvers.notifications.model import WILDCARD


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    description: str
    filterable_by_resource_type: bool = False

    @property
    def schema_file(self) -> str:
        return f"{self.name}.v{self.version}.json"

    def schema(self) -> dict[str, Any]:
        return load_schema(self.schema_file)


def _event(name: str, *, filterable: bool = False) -> EventType:
    return EventType(name, 1, str(load_schema(f"{name}.v1.json")["description"]), filterable)


@functools.cache
def load_schema(file_name: str) -> dict[str, Any]:
    text = resources.files("resolvers.notifications").joinpath(
        "event_schemas", file_name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


NAMES = (
    "lab.result.created", "lab.result.corrected", "lab.alert.raised", "lab.alert.acknowledged",
    "mpi.review.created", "mpi.link.created", "mpi.link.undone",
    "payment.succeeded", "payment.failed", "payment.refunded",
    "fhir.resource.created", "fhir.resource.updated", "fhir.resource.deleted",
    "webhook.test", "webhook.endpoint.disabled",
    "notification.sent", "notification.failed", "notification.opted_out",
    "appointment.confirmed", "appointment.cancelled",
)


@functools.cache
def catalogue() -> dict[str, EventType]:
    """Read on first use (no file is opened at import time)."""
    return {n: _event(n, filterable=n.startswith("fhir.resource.")) for n in NAMES}


def check_filters(patterns: list[str], resource_types: list[str]) -> tuple[tuple[str, ...],
                                                                           tuple[str, ...]]:
    """Subscription filters as stored, or InvalidInput naming every bad entry."""
    known = catalogue()
    problems: list[dict[str, str]] = []
    if not patterns:
        problems.append({"field": "event_types", "message": "name at least one event type "
                         "(or * for all)"})
    for p in patterns:
        if p == WILDCARD or p in known:
            continue
        if p.endswith(".*") and any(n.startswith(p[:-1]) for n in known):
            continue
        problems.append({"field": "event_types",
                         "message": f"{p!r} is not an event type of the catalogue nor a "
                                    "wildcard over some (*, lab.*, fhir.resource.*)"})
    for r in resource_types:
        if not r.isalpha() or not r[:1].isupper():
            problems.append({"field": "resource_types",
                             "message": f"{r!r} is not a FHIR resource type name"})
    if problems:
        raise InvalidInput("invalid subscription filters", details=problems)
    return tuple(dict.fromkeys(patterns)), tuple(dict.fromkeys(resource_types))
