"""Every REST operation and GraphQL query field that serves patient data leaves an audit row.

The operations are not listed by hand from memory: they are read from ``GET /openapi.json`` and
from the GraphQL schema. Each one must be either *audited* (a recipe below calls it; the test
then finds the rows recorded under the response's ``X-Request-ID``) or *not audited* with a
reason. A new route or query field is in neither table, so it fails
``test_every_*_is_classified`` until someone decides, in writing, which it is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLUnionType

from schema.build import build_schema
from tests.hl7v2 import messages
from tests.payments.fake_provider import PAYMENT_BODY, FakeProvider
from tests.support import Harness, make_settings, running_app

NATID = "urn:oid:1.3.6.1.4.1.9999.1"  # the worked example's PID-3 system
NO_ROLE: tuple[str, ...] = ()  # a valid token without any role: refused by every guarded route


@dataclass
class World:
    """Patient data for the recipes to reach: one patient with a lab result, a payment."""

    patient_id: str
    observation_id: str
    payment_id: str


@dataclass(frozen=True)
class Call:
    """How to call one operation as someone allowed, and what the audit should say."""

    path: str
    role: str
    body: Any = None
    content_type: str = "application/json"
    outcome: str = "success"
    patient: str | None = None  # a record must name this patient (on denial too)
    headers: tuple[tuple[str, str], ...] = ()


Recipe = Callable[[World], Call]

# ------------------------------------------------------------------------------ REST tables

CDS_FEEDBACK = {"feedback": [{"card": "00000000-0000-4000-8000-000000000000",
                              "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]}


def _cds_call(world: World, hook: str) -> dict[str, Any]:
    return {"hookInstance": "audit-1", "hook": hook, "context": {
        "patientId": world.patient_id, "medications": ["rifampicin", "dolutegravir"]}}


AUDITED: dict[str, Recipe] = {
    "GET /api/patients": lambda w: Call("/api/patients?family=Odhiambo", "clinician"),
    "POST /api/patients": lambda w: Call("/api/patients", "clinician", body={
        "identifiers": [{"system": "urn:test:mrn", "value": "audit-1"}], "family": "Achieng"}),
    "GET /api/patients/{patient_id}": lambda w: Call(f"/api/patients/{w.patient_id}",
                                                     "clinician", patient=w.patient_id),
    "PUT /api/patients/{patient_id}": lambda w: Call(
        f"/api/patients/{w.patient_id}", "clinician", patient=w.patient_id, body={
            "identifiers": [{"system": NATID, "value": "NID9988"}], "family": "Odhiambo",
            "given": ["Grace"], "birth_date": "1985-04-12", "gender": "female"}),
    "POST /api/fhir": lambda w: Call("/api/fhir", "clinician", content_type="application/fhir+json",
                                     patient=w.patient_id, body={
        "resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "GET", "url": f"Observation/{w.observation_id}"}}]}),
    "POST /api/fhir/Patient/$match": lambda w: Call(
        "/api/fhir/Patient/$match", "clinician", content_type="application/fhir+json", body={
            "resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
                "resourceType": "Patient", "name": [{"family": "Odhiambo", "given": ["Grace"]}],
                "birthDate": "1985-04-12", "gender": "female",
                "identifier": [{"system": NATID, "value": "NID9988"}]}}]},
        patient=w.patient_id),
    "POST /api/fhir/{type}/_search": lambda w: Call(
        "/api/fhir/Observation/_search", "clinician", body=f"patient={w.patient_id}",
        content_type="application/x-www-form-urlencoded", patient=w.patient_id),
    "GET /api/fhir/{type}/{id}/_history/{vid}": lambda w: Call(
        f"/api/fhir/Observation/{w.observation_id}/_history/1", "clinician",
        patient=w.patient_id),
    "GET /api/fhir/{type}/{id}/_history": lambda w: Call(
        f"/api/fhir/Observation/{w.observation_id}/_history", "clinician",
        patient=w.patient_id),
    "GET /api/fhir/{type}/{id}": lambda w: Call(f"/api/fhir/Observation/{w.observation_id}",
                                                "clinician", patient=w.patient_id),
    "PUT /api/fhir/{type}/{id}": lambda w: Call(
        "/api/fhir/Observation/audit-put", "clinician", content_type="application/fhir+json",
        patient=w.patient_id, body=_observation(w.patient_id, "audit-put")),
    "DELETE /api/fhir/{type}/{id}": lambda w: Call(
        f"/api/fhir/Observation/{w.observation_id}", "clinician", patient=w.patient_id),
    "GET /api/fhir/{type}": lambda w: Call(f"/api/fhir/Observation?subject=Patient/{w.patient_id}",
                                           "clinician", patient=w.patient_id),
    "POST /api/fhir/{type}": lambda w: Call(
        "/api/fhir/Observation", "clinician", content_type="application/fhir+json",
        patient=w.patient_id, body=_observation(w.patient_id)),
    "GET /api/mpi/patients/{patient_id}/fhir": lambda w: Call(
        f"/api/mpi/patients/{w.patient_id}/fhir", "clinician", patient=w.patient_id),
    "POST /api/lab/hl7-ingest": lambda w: Call(
        "/api/lab/hl7-ingest", "lab", body=messages.WORKED_EXAMPLE.replace(
            "LAB000123", "AUDIT-2") + "\r", content_type="text/plain", patient=w.patient_id),
    "POST /api/clinical/hl7/ingest": lambda w: Call(
        "/api/clinical/hl7/ingest", "clinician", body=messages.WORKED_EXAMPLE.replace(
            "LAB000123", "AUDIT-3") + "\r", content_type="text/plain", patient=w.patient_id),
    "GET /api/patients/{patient_id}/lab-results": lambda w: Call(
        f"/api/patients/{w.patient_id}/lab-results", "clinician", patient=w.patient_id),
    "GET /api/mpi/review": lambda w: Call("/api/mpi/review", "clinician"),
    "GET /api/lab/alerts": lambda w: Call(f"/api/lab/alerts?patient_id={w.patient_id}",
                                          "clinician", patient=w.patient_id),
    "POST /api/lab/alerts/{alert_id}/acknowledge": lambda w: Call(
        "/api/lab/alerts/no-such-alert/acknowledge", "clinician", outcome="not_found"),
    "GET /api/lab/message-conflicts": lambda w: Call("/api/lab/message-conflicts", "integrator"),
    "POST /api/mpi/review/{task_id}/resolve": lambda w: Call(
        "/api/mpi/review/no-such-task/resolve", "clinician", body={"decision": "reject"},
        outcome="not_found"),
    "GET /api/mpi/links": lambda w: Call(f"/api/mpi/links?patient_id={w.patient_id}",
                                         "clinician", patient=w.patient_id),
    "POST /api/mpi/links/{link_id}/undo": lambda w: Call(
        "/api/mpi/links/no-such-link/undo", "clinician", body={"reason": "audit test"},
        outcome="not_found"),
    "GET /api/webhooks/events": lambda w: Call("/api/webhooks/events", "admin"),
    # WhatsApp messaging (not configured here; the patient has no phone: refusals, audited).
    "POST /api/notifications": lambda w: Call(
        "/api/notifications", "clinician", outcome="failure", patient=w.patient_id,
        body={"patient_id": w.patient_id, "template": "t", "language": "en"}),
    "GET /api/notifications": lambda w: Call(f"/api/notifications?patient_id={w.patient_id}",
                                             "clinician", patient=w.patient_id),
    "GET /api/notifications/{notification_id}": lambda w: Call(
        "/api/notifications/no-such-message", "clinician", outcome="not_found"),
    "POST /api/notifications/{notification_id}/cancel": lambda w: Call(
        "/api/notifications/no-such-message/cancel", "clinician", outcome="not_found"),
    "GET /api/patients/{patient_id}/messaging-consent": lambda w: Call(
        f"/api/patients/{w.patient_id}/messaging-consent", "clinician", outcome="failure",
        patient=w.patient_id),
    "PUT /api/patients/{patient_id}/messaging-consent": lambda w: Call(
        f"/api/patients/{w.patient_id}/messaging-consent", "clinician", outcome="failure",
        patient=w.patient_id, body={"state": "opted_in"}),
    "GET /api/webhooks/events/{event_id}": lambda w: Call(
        "/api/webhooks/events/no-such-event", "admin", outcome="not_found"),
    "POST /api/webhooks/events/{event_id}/replay": lambda w: Call(
        "/api/webhooks/events/no-such-event/replay", "admin", outcome="not_found"),
    "GET /api/payments/subscriptions": lambda w: Call(
        f"/api/payments/subscriptions?patient_id={w.patient_id}", "billing",
        patient=w.patient_id),
    "POST /api/payments": lambda w: Call(
        "/api/payments", "billing", body={**PAYMENT_BODY, "reference": "AUDIT-2",
                                          "patient_id": w.patient_id},
        headers=(("Idempotency-Key", "audit-2"),), patient=w.patient_id),
    "GET /api/payments": lambda w: Call(f"/api/payments?patient_id={w.patient_id}", "billing",
                                        patient=w.patient_id),
    "POST /api/payments/payouts": lambda w: Call(
        "/api/payments/payouts", "billing", body={**PAYMENT_BODY, "reference": "AUDIT-3",
                                                  "patient_id": w.patient_id},
        headers=(("Idempotency-Key", "audit-3"),), patient=w.patient_id),
    "GET /api/payments/{payment_id}": lambda w: Call(f"/api/payments/{w.payment_id}", "billing",
                                                     patient=w.patient_id),
    "POST /api/payments/{payment_id}/refund": lambda w: Call(
        f"/api/payments/{w.payment_id}/refund", "billing", body={}, patient=w.patient_id),
    # No HIE is reachable here: a sandbox endpoint the allow-list refuses is still audited
    # (tests/crossborder has the lookups that answer).
    "GET /api/fhir/cross-border/Patient/{national_id}": lambda w: Call(
        "/api/fhir/cross-border/Patient/NID9988?hie_endpoint=http://169.254.169.254/fhir",
        "clinician", outcome="failure", patient="NID9988"),
    "POST /api/fhir/cross-border/Patient/{national_id}/$import": lambda w: Call(
        "/api/fhir/cross-border/Patient/NID9988/$import?country=XX", "clinician",
        outcome="failure", patient="NID9988"),
    # CDS Hooks: a call names its patient (CdsService, execute); feedback about a card never
    # issued is recorded not found (tests/cds_hooks has the cards and feedback that succeed).
    "POST /cds-services/{service_id}": lambda w: Call(
        "/cds-services/drug-interaction-check", "clinician", body=_cds_call(w, "patient-view"),
        patient=w.patient_id),
    "POST /cds-hooks/{service_id}": lambda w: Call(
        "/cds-hooks/lab-critical-values", "clinician", body=_cds_call(w, "patient-view"),
        patient=w.patient_id),
    "POST /cds-services/{service_id}/feedback": lambda w: Call(
        "/cds-services/drug-interaction-check/feedback", "clinician", body=CDS_FEEDBACK,
        outcome="not_found"),
    "POST /cds-hooks/{service_id}/feedback": lambda w: Call(
        "/cds-hooks/drug-interaction-check/feedback", "integrator", body=CDS_FEEDBACK,
        outcome="not_found"),
    # No PACS is configured here: the access is refused (502) and audited as a failure naming
    # the patient; tests/imaging has the accesses and annotations that succeed.
    "POST /api/clinical/dicom/access": lambda w: Call(
        "/api/clinical/dicom/access", "clinician", body={"study_uid": "1.2.3",
                                                          "patient_id": w.patient_id},
        outcome="failure", patient=w.patient_id),
    "POST /api/clinical/dicom/annotate": lambda w: Call(
        "/api/clinical/dicom/annotate", "clinician", outcome="not_found", body={
            "study_uid": "1.2.3", "annotations": [{
                "type": "text", "series_uid": "1.2.3.1", "instance_uid": "1.2.3.1.1",
                "coordinates": [1, 2], "text": "audit"}]}),
    "GET /api/clinical/dicom/studies/{study_uid}/annotations": lambda w: Call(
        "/api/clinical/dicom/studies/1.2.3/annotations", "clinician", outcome="not_found"),
}

# The DICOM viewer proxy: the signed token in the path is the credential, not a bearer token.
VIEWER_PROXY = ("the viewer's DICOMweb proxy, authenticated by the signed viewer token in its "
                "path (no bearer token, so this table's no-role denial does not apply); every "
                "token use is audited once per study and series, naming the patient and whom "
                "the URL was issued to, and refusals each time: tests/imaging/test_proxy.py")
DICOMWEB_TAILS = (
    "studies", "studies/{study}", "studies/{study}/metadata", "studies/{study}/rendered",
    "studies/{study}/series", "studies/{study}/series/{series}",
    "studies/{study}/series/{series}/metadata", "studies/{study}/series/{series}/rendered",
    "studies/{study}/series/{series}/instances",
    "studies/{study}/series/{series}/instances/{instance}",
    "studies/{study}/series/{series}/instances/{instance}/metadata",
    "studies/{study}/series/{series}/instances/{instance}/rendered",
    "studies/{study}/series/{series}/instances/{instance}/frames/{frames}")

WEBHOOK_SUBSCRIPTION_ROUTES = (
    "POST /api/webhooks/endpoints", "GET /api/webhooks/endpoints",
    "GET /api/webhooks/endpoints/{endpoint_id}", "PATCH /api/webhooks/endpoints/{endpoint_id}",
    "DELETE /api/webhooks/endpoints/{endpoint_id}",
    "POST /api/webhooks/endpoints/{endpoint_id}/enable",
    "POST /api/webhooks/endpoints/{endpoint_id}/disable",
    "POST /api/webhooks/endpoints/{endpoint_id}/rotate-secret",
    "POST /api/webhooks/endpoints/{endpoint_id}/test",
    "GET /api/webhooks/endpoints/{endpoint_id}/deliveries",
    "GET /api/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}",
    "POST /api/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay",
    "POST /api/webhooks/endpoints/{endpoint_id}/replay",
)

NOT_AUDITED: dict[str, str] = {
    "GET /healthz": "liveness; no data",
    "GET /api/mpi/profile": "the register's kind: counts and a share, no patient data (admin)",
    "POST /api/mpi/profile": "profiles the register: counts and a share, no patient data",
    "GET /readyz": "readiness; no data",
    "GET /metrics": "counters per route and status; no patient ids",
    "GET /openapi.json": "the API description",
    "GET /docs": "the API description",
    "GET /api/fhir/metadata": "the CapabilityStatement; public by specification",
    "POST /api/fhir/$validate": "validates the body it was sent; nothing is read or stored",
    "POST /api/fhir/{type}/$validate": "validates the body it was sent; nothing read or stored",
    "POST /api/cds/panic-values/check": "classifies the values it was sent; names no patient",
    "GET /api/organizations": "facilities and laboratories, not patients",
    "POST /api/organizations": "facilities and laboratories, not patients",
    "GET /api/organizations/{organization_id}": "facilities and laboratories, not patients",
    "GET /api/admin/audit-events": "the trail itself (admin only); auditing its reads would "
                                   "add a row to every page an auditor turns",
    "GET /api/admin/outbox": "delivery metadata only (destination, status, event type, "
                             "error); payloads are never answered",
    "POST /api/admin/outbox/replay": "re-queues deliveries already audited when written; "
                                     "answers a count",
    "POST /api/admin/outbox/{message_id}/replay": "as /api/admin/outbox/replay",
    "GET /api/admin/outbox/destinations": "destination names, pauses and row counts; no "
                                          "patient data",
    "POST /api/admin/outbox/destinations/{destination}/pause": "no patient data; the pause is "
                                                               "audited as OutboxDestination",
    "POST /api/admin/outbox/destinations/{destination}/resume": "as the pause",
    "POST /api/webhooks/stripe": "a provider's signed delivery: no caller to name; stored "
                                 "and readable only through the audited admin routes",
    "POST /api/webhooks/livekit": "as /api/webhooks/stripe",
    "POST /api/gtm/webhooks/resend": "as /api/webhooks/stripe",
    "POST /api/gtm/webhooks/inbound": "as /api/webhooks/stripe",
    "POST /api/webhooks/whatsapp": "as /api/webhooks/stripe",
    "GET /api/webhooks/whatsapp": "Meta's verification handshake: echoes a challenge",
    "GET /api/notifications/templates": "WhatsApp message templates: no patient data",
    "POST /api/notifications/templates": "registers a message template: no patient data",
    "POST /api/notifications/templates/sync": "syncs templates from the Graph API: no "
    "patient data",
    "POST /api/payments/webhooks/mpesa": "a provider callback authenticated by its token; "
                                         "every transition is kept in the payment history",
    "POST /api/payments/webhooks/mtn-momo": "as /api/payments/webhooks/mpesa",
    "PUT /api/payments/webhooks/mtn-momo": "as /api/payments/webhooks/mpesa",
    "POST /api/payments/webhooks/orange-money": "as /api/payments/webhooks/mpesa",
    "GET /.well-known/smart-configuration": "SMART discovery; public by specification",
    "GET /api/fhir/.well-known/smart-configuration": "as /.well-known/smart-configuration",
    "GET /.well-known/jwks.json": "the id_token signing key (public part); no data",
    "GET /cds-services": "CDS Hooks discovery: the services offered; public by specification",
    "POST /api/smart/apps": "registers a SMART app (admin): no patient data",
    "GET /api/smart/apps": "registered SMART apps (admin): no patient data",
    "GET /api/smart/apps/{client_id}": "a registered SMART app (admin): no patient data",
    "GET /api/public-health/dhis2-export": "aggregate counts per facility, no patient data; "
    "each export is still recorded (Dhis2Export, tests/dhis2/test_export.py)",
    "POST /api/public-health/dhis2-push": "aggregate counts per facility, no patient data; "
    "each push is still recorded (Dhis2Push, tests/dhis2/test_push.py)",
    "GET /api/public-health/dhis2-push/{push_id}": "a push's state and DHIS2's counts: no "
    "patient data",
    "GET /api/public-health/dhis2/metadata-check": "the mapping against DHIS2 metadata: no "
    "patient data; recorded anyway (Dhis2MetadataCheck)",
    "GET /api/public-health/national-dataset": "aggregate counts by facility, district or "
    "region, small cells suppressed: no patient data; recorded anyway (NationalDataset)",
    "GET /api/public-health/indicators/{code}/series": "an indicator's aggregate counts per "
    "period, no patient data; recorded anyway (IndicatorSeries, tests/dhis2/test_feeds.py)",
    "GET /api/public-health/indicators/{code}/measure-report": "an indicator's aggregate "
    "counts as a MeasureReport, no patient data; recorded anyway (IndicatorMeasureReport)",
    "POST /api/public-health/dhis2/org-units/import": "writes Organizations (not patient "
    "data) from DHIS2's org units; recorded anyway (Dhis2OrgUnitImport, "
    "tests/dhis2/test_org_units.py)",
    "POST /api/surveillance/export/dhis2": "daily syndrome counts per org unit and alerts, no "
    "patient data; recorded anyway (SurveillanceExport, tests/dhis2/test_surveillance.py)",
    "POST /api/smart/launch": "audited (a SmartLaunch record naming the patient) once a "
                              "registered app's launch URL is given: tests/smart cover it; "
                              "this table's world registers no app",
    "GET /api/smart/authorize": "issues a code for the caller; the data it opens is audited "
                                "at the FHIR routes, each record naming the app",
    "POST /api/smart/authorize": "as GET /api/smart/authorize",
    "POST /api/smart/token": "issues tokens to an app; no patient data is read",
    "POST /api/smart/introspect": "describes a token; no patient data is read",
    "POST /api/smart/revoke": "revokes a token; no patient data is read",
    "GET /api/webhooks/event-types": "the webhook event catalogue and its schemas: no data",
    **{route: "webhook subscription management (admin, integrator): endpoints, events by "
       "id and delivery attempts, no patient data; recorded anyway (WebhookEndpoint, "
       "tests/notifications/test_audit.py)" for route in WEBHOOK_SUBSCRIPTION_ROUTES},
    **{f"GET /api/clinical/dicom/viewer/{{token}}/dicomweb/{tail}": VIEWER_PROXY
       for tail in DICOMWEB_TAILS},
    "GET /api/clinical/dicom/viewer/{token}/wado": VIEWER_PROXY,
    "GET /api/clinical/dicom/viewer/{token}/ohif-datasource.json": "the viewer's data source "
    "configuration: the token's own proxy URLs, no patient data",
}


def _observation(patient_id: str, resource_id: str | None = None) -> dict[str, Any]:
    return {"resourceType": "Observation", **({"id": resource_id} if resource_id else {}),
            "status": "final", "code": {"coding": [{"system": "http://loinc.org",
                                                    "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def audited(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[Harness, World]]:
    settings = make_settings(tmp_path / "var", sqlite_url, outbox_worker=False,
                             payments_reconcile_seconds=0.0)
    async with running_app(settings) as h:
        h.app.state.services.payments.providers.use({"mpesa": FakeProvider()})
        patient = await h.create_patient(
            identifiers=[{"system": NATID, "value": "NID9988"}], family="Odhiambo",
            given=["Grace"], birth_date="1985-04-12", gender="female")
        ingest = await h.client.post("/api/lab/hl7-ingest",
                                     content=(messages.WORKED_EXAMPLE + "\r").encode(),
                                     headers={**h.auth("lab"), "Content-Type": "text/plain"})
        assert ingest.status_code == 200 and ingest.json()["data"]["patient_id"] == patient["id"]
        observation = await h.client.post(
            "/api/fhir/Observation", json=_observation(patient["id"]),
            headers={**h.auth("clinician"), "Content-Type": "application/fhir+json"})
        assert observation.status_code == 201, observation.text
        payment = await h.client.post("/api/payments", json={**PAYMENT_BODY,
                                                            "patient_id": patient["id"]},
                                      headers={**h.auth("billing"), "Idempotency-Key": "audit-1"})
        assert payment.status_code == 201, payment.text
        yield h, World(patient_id=patient["id"], observation_id=observation.json()["id"],
                       payment_id=payment.json()["data"]["id"])


async def _rows(h: Harness, request_id: str) -> list[dict[str, Any]]:
    assert request_id, "every response carries X-Request-ID"
    page = await h.client.get("/api/admin/audit-events?limit=200", headers=h.auth("admin"))
    assert page.status_code == 200, page.text
    return [r for r in page.json()["data"]["items"] if r["request_id"] == request_id]


async def _send(h: Harness, method: str, call: Call, roles: tuple[str, ...]) -> Any:
    headers = {**h.auth(*roles), **dict(call.headers)}
    if call.body is None:
        return await h.client.request(method, call.path, headers=headers)
    content = call.body if isinstance(call.body, str) else json.dumps(call.body)
    return await h.client.request(method, call.path, content=content.encode(),
                                  headers={**headers, "Content-Type": call.content_type})


def _knowable_before_the_body(world: World, call: Call) -> bool:
    """A refusal must name the patient when the URL names it or a resource of it: callers
    without the role are refused before their body is read, so a body's patient is unknown."""
    named = (world.patient_id, world.observation_id, world.payment_id)
    return call.patient is not None and any(n in call.path for n in named)


def _problem(op: str, role: str, response: Any, rows: list[dict[str, Any]], why: str) -> str:
    return f"{op} as {role or 'no role'} ({response.status_code}): {why}; rows: {rows}"


# ------------------------------------------------------------------------------ REST


async def test_every_rest_operation_is_classified(gateway: Harness) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    declared = {f"{m.upper()} {p}" for p, methods in spec["paths"].items() for m in methods}
    assert not AUDITED.keys() & NOT_AUDITED.keys()
    unclassified = declared - AUDITED.keys() - NOT_AUDITED.keys()
    assert not unclassified, f"say whether these serve patient data (and audit them): " \
                             f"{sorted(unclassified)}"
    stale = (AUDITED.keys() | NOT_AUDITED.keys()) - declared
    assert not stale, f"no longer in /openapi.json: {sorted(stale)}"


async def test_every_patient_data_operation_audits_access_and_denial(
        audited: tuple[Harness, World]) -> None:
    h, world = audited
    problems: list[str] = []
    for op, recipe in AUDITED.items():
        method = op.split(" ", 1)[0]
        call = recipe(world)
        # Denial first: a refused caller must leave a record, naming the patient if known.
        refused = await _send(h, method, call, NO_ROLE)
        rows = await _rows(h, refused.headers.get("x-request-id", ""))
        if refused.status_code != 403:
            problems.append(_problem(op, "", refused, rows, "expected 403"))
        elif not any(r["outcome"] == "denied" for r in rows):
            problems.append(_problem(op, "", refused, rows, "no denied record"))
        elif _knowable_before_the_body(world, call) and not any(
                r["patient_id"] == call.patient for r in rows):
            problems.append(_problem(op, "", refused, rows, f"denial names no {call.patient}"))
        allowed = await _send(h, method, call, (call.role,))
        rows = await _rows(h, allowed.headers.get("x-request-id", ""))
        if not rows:
            problems.append(_problem(op, call.role, allowed, rows, "no audit record"))
        elif not any(r["outcome"] == call.outcome for r in rows):
            problems.append(_problem(op, call.role, allowed, rows, f"no {call.outcome} record"))
        elif call.patient and not any(r["patient_id"] == call.patient for r in rows):
            problems.append(_problem(op, call.role, allowed, rows, f"names no {call.patient}"))
        elif any(r["subject"] != "tester" or r["surface"] != "rest" for r in rows):
            problems.append(_problem(op, call.role, allowed, rows, "wrong who or surface"))
    assert not problems, "\n".join(problems)


async def test_denied_fhir_read_names_the_patient_without_answering_the_resource(
        audited: tuple[Harness, World]) -> None:
    h, world = audited
    refused = await h.client.get(f"/api/fhir/Observation/{world.observation_id}",
                                 headers=h.auth("billing"))
    assert refused.status_code == 403 and "valueQuantity" not in refused.text
    [row] = await _rows(h, refused.headers["x-request-id"])
    assert (row["outcome"], row["resource_id"], row["patient_id"]) == (
        "denied", world.observation_id, world.patient_id)
    searched = await h.client.get(f"/api/fhir/Observation?patient={world.patient_id}",
                                  headers=h.auth("billing"))
    assert searched.status_code == 403
    [row] = await _rows(h, searched.headers["x-request-id"])
    assert (row["outcome"], row["patient_id"]) == ("denied", world.patient_id)


# ------------------------------------------------------------------------------ GraphQL

# Types that carry patient data although they have no patient field of their own.
PATIENT_TYPES_BY_NATURE = {"Patient": "is the patient",
                           "WebhookEvent": "provider payloads may name a patient",
                           "CrossBorderLookup": "patients found in national HIEs"}
PATIENT_FIELDS = ("patient", "patientId", "subject", "candidatePatientId", "candidates")

GQL_AUDITED: dict[str, Callable[[World], tuple[str, str | None]]] = {
    "patient": lambda w: (f'{{ patient(id: "{w.patient_id}") {{ id }} }}', w.patient_id),
    "patients": lambda w: ("{ patients(family: \"Odhiambo\") { nodes { id } } }", w.patient_id),
    "_entities": lambda w: ('{ _entities(representations: [{__typename: "Patient", id: "'
                            f'{w.patient_id}"}}]) {{ ... on Patient {{ id }} }} }}',
                            w.patient_id),
    "observation": lambda w: (f'{{ observation(id: "{w.observation_id}") {{ id }} }}',
                              w.patient_id),
    **{field: (lambda f: lambda w: (f'{{ {f}(patientId: "{w.patient_id}") {{ nodes {{ id }} }} }}',
                                    w.patient_id))(field)
       for field in ("observations", "diagnosticReports", "encounters", "medicationRequests",
                     "conditions", "allergyIntolerances", "procedures", "immunizations",
                     "appointments", "appointmentResponses")},
    **{field: (lambda f: lambda w: (f'{{ {f}(id: "nope") {{ id }} }}', None))(field)
       for field in ("diagnosticReport", "encounter", "medicationRequest", "condition",
                     "allergyIntolerance", "procedure", "immunization", "appointment",
                     "appointmentResponse")},
    "labAlerts": lambda w: (f'{{ labAlerts(patientId: "{w.patient_id}") {{ id }} }}',
                            w.patient_id),
    "patientLinks": lambda w: (f'{{ patientLinks(patientId: "{w.patient_id}") {{ id }} }}',
                               w.patient_id),
    "webhookEvents": lambda w: ("{ webhookEvents { nodes { id } } }", None),
    "payment": lambda w: (f'{{ payment(id: "{w.payment_id}") {{ id }} }}', w.patient_id),
    "payments": lambda w: (f'{{ payments(patientId: "{w.patient_id}") {{ nodes {{ id }} }} }}',
                           w.patient_id),
    "stripeSubscriptions": lambda w: (
        f'{{ stripeSubscriptions(patientId: "{w.patient_id}") {{ nodes {{ id }} }} }}',
        w.patient_id),
}
GQL_AUDITED["crossBorderPatients"] = lambda w: (  # refused (no HIE here), still audited
    '{ crossBorderPatients(nationalId: "NID9988", hieEndpoint: "http://169.254.169.254/x") '
    '{ __typename } }', "NID9988")
GQL_AUDITED["imagingAnnotations"] = lambda w: (  # a study never opened: audited not_found
    '{ imagingAnnotations(studyUid: "1.2.3") { nodes { id } } }', None)
GQL_AUDITED["notifications"] = lambda w: (
    f'{{ notifications(patientId: "{w.patient_id}") {{ nodes {{ id }} }} }}', w.patient_id)
GQL_AUDITED["notification"] = lambda w: ('{ notification(id: "nope") { id } }', None)
GQL_AUDITED["messagingConsent"] = lambda w: (  # no phone on the world's patient: failure
    f'{{ messagingConsent(patientId: "{w.patient_id}") {{ state }} }}', w.patient_id)
GQL_NOT_AUDITED = {
    "auditEvents": "the trail itself (admin only), as GET /api/admin/audit-events",
}


def _named(graphql_type: Any) -> Any:
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def _returned_types(graphql_type: Any) -> set[str]:
    """The object types a field answers: through lists, unions and connections (nodes)."""
    named = _named(graphql_type)
    if isinstance(named, GraphQLUnionType):
        return {t.name for t in named.types}
    if isinstance(named, GraphQLObjectType):
        if "nodes" in named.fields:
            return _returned_types(named.fields["nodes"].type)
        return {named.name}
    return set()


def _patient_query_fields() -> set[str]:
    schema = build_schema(max_depth=20, max_cost=10**6)._schema
    patient_types = set(PATIENT_TYPES_BY_NATURE) | {
        name for name, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and any(f in t.fields for f in PATIENT_FIELDS)}
    assert schema.query_type is not None
    return {name for name, field in schema.query_type.fields.items()
            if _returned_types(field.type) & patient_types}


def test_every_patient_data_query_field_is_classified() -> None:
    fields = _patient_query_fields()
    assert {"patient", "observations", "labAlerts", "payments"} <= fields  # the walk works
    unclassified = fields - GQL_AUDITED.keys() - GQL_NOT_AUDITED.keys()
    assert not unclassified, f"audit these query fields or say why not: {sorted(unclassified)}"
    assert not (GQL_AUDITED.keys() | GQL_NOT_AUDITED.keys()) - fields


async def test_every_patient_data_query_field_audits(audited: tuple[Harness, World]) -> None:
    h, world = audited
    problems: list[str] = []
    for field, recipe in GQL_AUDITED.items():
        query, patient = recipe(world)
        response = await h.client.post("/graphql", json={"query": query},
                                       headers=h.auth("admin"))
        body = response.json()
        rows = await _rows(h, response.headers.get("x-request-id", ""))
        if response.status_code != 200 or body.get("errors"):
            problems.append(f"{field}: {response.status_code} {body}")
        elif not rows:
            problems.append(f"{field}: no audit record")
        elif patient and not any(r["patient_id"] == patient for r in rows):
            problems.append(f"{field}: names no {patient}: {rows}")
        elif any(r["surface"] != "graphql" for r in rows):
            problems.append(f"{field}: surface: {rows}")
    assert not problems, "\n".join(problems)
