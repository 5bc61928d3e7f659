"""A CDS Hooks 2.0 request body, checked field by field (standards: CDS Hooks 2.0, 2.1-2.2).

Liberal where the product documentation is: its example sends ``context.medications`` and no
``userId``, so ``userId`` is checked when present (its type prefix) but not required; the
hook's other required context fields are. Each refusal names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from resolvers.cds.hooks.catalog import HOOKS_OF
from resolvers.cds.hooks.medications import bundle_resources
from resolvers.cds.hooks.model import (
    ORDER_SELECT,
    ORDER_SIGN,
    PATIENT_VIEW,
    BadHookRequest,
    FhirAuthorization,
    HookRequest,
    UnknownService,
)

MAX_ID = 200
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 id: it goes into searches as it is
USER_TYPES = {
    PATIENT_VIEW: ("Practitioner/", "PractitionerRole/", "Patient/", "RelatedPerson/"),
    ORDER_SELECT: ("Practitioner/", "PractitionerRole/"),
    ORDER_SIGN: ("Practitioner/", "PractitionerRole/"),
}


def _text(body: Mapping[str, Any], name: str, where: str, *, required: bool = True,
          limit: int = MAX_ID) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadHookRequest(f"{where}{name}", "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadHookRequest(f"{where}{name}", "must be a non-empty string")
    if len(value) > limit:
        raise BadHookRequest(f"{where}{name}", f"must be at most {limit} characters")
    return value


def _object(body: Mapping[str, Any], name: str, where: str = "", *,
            required: bool = True) -> Mapping[str, Any] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadHookRequest(f"{where}{name}", "is required")
        return None
    if not isinstance(value, dict):
        raise BadHookRequest(f"{where}{name}", "must be a JSON object")
    return value


def _context(hook: str, context: Mapping[str, Any]) -> None:
    patient = _text(context, "patientId", "context.")
    if patient is not None and not FHIR_ID.fullmatch(patient):
        raise BadHookRequest("context.patientId", "must be a FHIR id (letters, digits, '-' "
                             "and '.', at most 64)")
    user = _text(context, "userId", "context.", required=False)
    if user is not None and not user.startswith(USER_TYPES[hook]):
        raise BadHookRequest("context.userId", "must be a reference to one of "
                             + ", ".join(t.rstrip("/") for t in USER_TYPES[hook]))
    _text(context, "encounterId", "context.", required=False)
    medications = context.get("medications")
    if medications is not None and not isinstance(medications, list):
        raise BadHookRequest("context.medications", "must be an array")
    if hook in (ORDER_SELECT, ORDER_SIGN):
        orders = _object(context, "draftOrders", "context.")
        assert orders is not None
        if orders.get("resourceType") != "Bundle" or not isinstance(orders.get("entry", []),
                                                                     list):
            raise BadHookRequest("context.draftOrders", "must be a FHIR Bundle")
    if hook == ORDER_SELECT:
        selections = context.get("selections")
        if not isinstance(selections, list) or not selections or not all(
                isinstance(s, str) and "/" in s for s in selections):
            raise BadHookRequest("context.selections", "is required: a non-empty array of "
                                 "'Type/id' references into draftOrders")
        drafted = {f"{r.get('resourceType')}/{r.get('id')}"
                   for r in bundle_resources(context.get("draftOrders"))}
        missing = [s for s in selections if s not in drafted]
        if missing:
            raise BadHookRequest("context.selections", f"{missing[0]} is not in draftOrders")


def _authorization(body: Mapping[str, Any]) -> FhirAuthorization | None:
    found = _object(body, "fhirAuthorization", required=False)
    if found is None:
        return None
    if body.get("fhirServer") is None:
        raise BadHookRequest("fhirServer", "is required when fhirAuthorization is sent")
    where = "fhirAuthorization."
    token = _text(found, "access_token", where, limit=8192)
    token_type = _text(found, "token_type", where)
    if token_type is not None and token_type.lower() != "bearer":
        raise BadHookRequest("fhirAuthorization.token_type", "must be Bearer")
    expires_in = found.get("expires_in")
    if expires_in is not None and (not isinstance(expires_in, int) or isinstance(
            expires_in, bool)):
        raise BadHookRequest("fhirAuthorization.expires_in", "must be a whole number")
    return FhirAuthorization(
        access_token=token or "", scope=_text(found, "scope", where, limit=4096) or "",
        subject=_text(found, "subject", where) or "",
        patient=_text(found, "patient", where, required=False), expires_in=expires_in)


def parse_hook_request(service_id: str, body: Any) -> HookRequest:
    """The request for ``service_id``, or BadHookRequest / UnknownService."""
    hooks = HOOKS_OF.get(service_id)
    if hooks is None:
        raise UnknownService(f"no CDS service {service_id!r}; GET /cds-services lists them")
    if not isinstance(body, dict):
        raise BadHookRequest("body", "must be a JSON object")
    hook = _text(body, "hook", "")
    assert hook is not None
    if hook not in hooks:
        raise BadHookRequest("hook", f"{service_id} serves {', '.join(sorted(hooks))}, "
                             f"not {hook!r}")
    instance = _text(body, "hookInstance", "")
    context = _object(body, "context")
    assert instance is not None and context is not None
    _context(hook, context)
    prefetch = _object(body, "prefetch", required=False) or {}
    authorization = _authorization(body)
    server = _text(body, "fhirServer", "", required=False, limit=2000)
    if server is not None and not server.startswith(("https://", "http://")):
        raise BadHookRequest("fhirServer", "must be an absolute http(s) URL")
    return HookRequest(service_id=service_id, hook=hook, hook_instance=instance,
                       context=context, prefetch=prefetch,
                       fhir_server=server.rstrip("/") if server else None,
                       fhir_authorization=authorization)
