"""Every declared route: authentication and the role check come before the body.

Walks rest_compat.routes.OPERATIONS. Each protected route is called with a body that is
wrong in every way at once (declared 100 MB, not JSON, wrong content type): without a token
the answer is 401, with a role the route does not allow it is 403, never 400/413/415/422,
and the app has not pulled a byte of the body. Refusals come in the family's shape.
"""

from __future__ import annotations

import re

from resolvers.principal import KNOWN_ROLES
from rest_compat.routes import OPERATIONS
from rest_compat.spec import Operation
from tests.asgi_probe import ProbeResult, probe
from tests.support import Harness

PUBLIC = {  # public by specification, or authenticated by the provider's signature/token
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"), ("GET", "/docs"),
    ("GET", "/api/fhir/metadata"), ("POST", "/api/webhooks/stripe"),
    ("POST", "/api/webhooks/livekit"), ("POST", "/api/gtm/webhooks/resend"),
    ("POST", "/api/gtm/webhooks/inbound"), ("POST", "/api/payments/webhooks/mpesa"),
    ("POST", "/api/payments/webhooks/mtn-momo"), ("PUT", "/api/payments/webhooks/mtn-momo"),
    ("POST", "/api/payments/webhooks/orange-money"),
    # WhatsApp: Meta's GET handshake answers only a matching verify token; POSTs are
    # verified by X-Hub-Signature-256 (tests/messaging/test_webhook.py probes both).
    ("GET", "/api/webhooks/whatsapp"), ("POST", "/api/webhooks/whatsapp"),
    # SMART on FHIR: discovery and JWKS are public by specification; the token and
    # revocation endpoints authenticate the client (secret, private_key_jwt or PKCE).
    ("GET", "/.well-known/smart-configuration"),
    ("GET", "/api/fhir/.well-known/smart-configuration"), ("GET", "/.well-known/jwks.json"),
    ("POST", "/api/smart/token"), ("POST", "/api/smart/revoke"),
    # CDS Hooks: discovery is public by specification; calls and feedback authenticate in
    # the endpoint, before the body, by a PASETO or a CDS client's JWT whose aud is the URL
    # called (tests/cds_hooks/test_refusals.py probes them like this file does).
    ("GET", "/cds-services"),
    *{("POST", f"{prefix}/{{service_id}}{tail}") for prefix in ("/cds-services", "/cds-hooks")
      for tail in ("", "/feedback")},
    # DICOM viewer proxy: the signed, expiring token in the path is the credential (a
    # viewer cannot send a bearer header); it grants one study (tests/imaging probes them).
    *{("GET", f"/api/clinical/dicom/viewer/{{token}}{tail}") for tail in (
        "/wado", "/ohif-datasource.json", "/dicomweb/studies", "/dicomweb/studies/{study}",
        "/dicomweb/studies/{study}/metadata", "/dicomweb/studies/{study}/rendered",
        "/dicomweb/studies/{study}/series", "/dicomweb/studies/{study}/series/{series}",
        "/dicomweb/studies/{study}/series/{series}/metadata",
        "/dicomweb/studies/{study}/series/{series}/rendered",
        "/dicomweb/studies/{study}/series/{series}/instances",
        "/dicomweb/studies/{study}/series/{series}/instances/{instance}",
        "/dicomweb/studies/{study}/series/{series}/instances/{instance}/metadata",
        "/dicomweb/studies/{study}/series/{series}/instances/{instance}/rendered",
        "/dicomweb/studies/{study}/series/{series}/instances/{instance}/frames/{frames}")},
}
BAD_BODY = [b"\x00{not json" * 6000] * 4  # ~240 kB offered, 100 MB declared
BAD_HEADERS = [("content-type", "text/plain"), ("content-length", str(100 * 1024 * 1024))]


def _path(op: Operation) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "Patient" if m[1] == "type" else "x-1", op.path)


def _outsider_role(op: Operation) -> str | None:
    """A real role the route does not allow, if there is one."""
    assert op.roles is not None
    if not op.roles:
        return None  # any authenticated caller may call it
    others = sorted(KNOWN_ROLES - {"admin", *op.roles})
    return others[0] if others else None


def _shape_problem(op: Operation, result: ProbeResult, code: str) -> str | None:
    body = result.json()
    if op.fhir or op.path.endswith("/fhir"):
        if body.get("resourceType") != "OperationOutcome":
            return f"not an OperationOutcome: {body}"
    elif body.get("success") is not False or body["error"]["code"] != code:
        return f"not the REST error envelope with {code}: {body}"
    return None


def _check(op: Operation, result: ProbeResult, status: int, code: str) -> list[str]:
    where = f"{op.method} {op.path}"
    if result.status != status:
        return [f"{where}: {result.status} instead of {status}: {result.body[:200]!r}"]
    problems = []
    if result.bytes_read:
        problems.append(f"{where}: read {result.bytes_read} body bytes before refusing")
    if (shape := _shape_problem(op, result, code)) is not None:
        problems.append(f"{where}: {shape}")
    if status == 401 and "www-authenticate" not in result.headers:
        problems.append(f"{where}: 401 without WWW-Authenticate")
    return problems


def test_only_the_declared_routes_are_public() -> None:
    public = {(op.method, op.path) for op in OPERATIONS if op.roles is None}
    assert public == PUBLIC
    validate = [op for op in OPERATIONS if op.path.endswith("$validate")]
    assert validate and all(op.roles for op in validate)


async def test_no_token_is_401_before_the_body(gateway: Harness) -> None:
    problems: list[str] = []
    for op in OPERATIONS:
        if op.roles is None:
            continue
        result = await probe(gateway.app, op.method, _path(op), headers=BAD_HEADERS,
                             chunks=BAD_BODY)
        problems += _check(op, result, 401, "unauthenticated")
    assert not problems, "\n".join(problems)


async def test_wrong_role_is_403_before_the_body(gateway: Harness) -> None:
    problems: list[str] = []
    checked = 0
    for op in OPERATIONS:
        if op.roles is None or (role := _outsider_role(op)) is None:
            continue
        headers = [*BAD_HEADERS, ("authorization", f"Bearer {gateway.token(role)}")]
        result = await probe(gateway.app, op.method, _path(op), headers=headers,
                             chunks=BAD_BODY)
        problems += _check(op, result, 403, "forbidden")
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= 40  # every route with roles some real role lacks


async def test_a_refused_role_is_audited(gateway: Harness) -> None:
    refused = await gateway.client.put("/api/fhir/Patient/p-9", content=b"{",
                                       headers=gateway.auth("billing", sub="cashier"))
    assert refused.status_code == 403
    audit = await gateway.client.get("/api/admin/audit-events?outcome=denied",
                                     headers=gateway.auth("admin"))
    (item,) = audit.json()["data"]["items"]
    assert (item["subject"], item["action"], item["resource_type"], item["resource_id"]) == (
        "cashier", "U", "Patient", "p-9")


async def test_validate_needs_a_role(gateway: Harness) -> None:
    patient = b'{"resourceType": "Patient"}'
    fhir = {"content-type": "application/fhir+json"}
    anonymous = await gateway.client.post("/api/fhir/$validate", content=patient, headers=fhir)
    assert anonymous.status_code == 401
    assert anonymous.json()["resourceType"] == "OperationOutcome"
    lab = await gateway.client.post("/api/fhir/Patient/$validate", content=patient,
                                    headers={**fhir, **gateway.auth("lab")})
    assert lab.status_code == 403
    clinician = await gateway.client.post("/api/fhir/$validate", content=patient,
                                          headers={**fhir, **gateway.auth("clinician")})
    assert clinician.status_code == 200


async def test_wrong_role_gets_403_not_422_on_a_write(gateway: Harness) -> None:
    invalid = {"identifiers": "not a list"}
    lab = await gateway.client.post("/api/patients", json=invalid, headers=gateway.auth("lab"))
    assert lab.status_code == 403
    clinician = await gateway.client.post("/api/patients", json=invalid,
                                          headers=gateway.auth("clinician"))
    assert clinician.status_code == 422


async def test_metrics_scope_still_passes(gateway: Harness) -> None:
    token = gateway.issuer.issue("scraper", [], ["metrics:read"])
    scraped = await gateway.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200
