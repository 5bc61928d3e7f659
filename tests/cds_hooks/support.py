"""CDS Hooks test helpers: the response schema check (every card a test receives), a gateway
with the fake checker, CDS client keys and JWTs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from adapters.settings import Settings
from adapters.settings.cds import CdsClient, CdsSettings
from tests.cds_hooks.fakes import FakeChecker
from tests.support import Harness, make_settings, running_app

SCHEMA = json.loads((Path(__file__).parent / "cds_hooks_response.schema.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)
BASE = "https://gw.example.org"
EHR = "https://ehr.example.org"


def no_empty_values(value: Any, where: str = "$") -> None:
    """The specification's JSON rule: no null, "", [] or {} anywhere below the top."""
    assert value is not None and value != "" and value != [] and value != {}, where
    if isinstance(value, dict):
        for key, inner in value.items():
            no_empty_values(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            no_empty_values(inner, f"{where}[{n}]")


def checked_cards(response: httpx.Response) -> list[dict[str, Any]]:
    """The cards of a 200 answer, each valid against the CDS Hooks 2.0 response schema."""
    assert response.status_code == 200, response.text
    body = response.json()
    VALIDATOR.validate(body)
    for card in body["cards"]:
        no_empty_values(card)
    cards: list[dict[str, Any]] = body["cards"]
    return cards


def outcome_field(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    expression: list[str] = body["issue"][0].get("expression", [""])
    return expression[0]


def cds_settings(tmp: Path, database_url: str, **cds: Any) -> Settings:
    settings = make_settings(tmp / "var", database_url, public_base_url=BASE,
                             outbox_worker=False)
    return replace(settings, cds=replace(CdsSettings(), **cds))


@asynccontextmanager
async def cds_gateway(settings: Settings,
                      checker: FakeChecker | None = None) -> AsyncIterator[Harness]:
    async with running_app(settings, cds_checker=checker or FakeChecker()) as harness:
        yield harness


def ehr_client(key: ECKey | RSAKey, iss: str = EHR, **extra: Any) -> CdsClient:
    return CdsClient(iss=iss, jwks={"keys": [key.as_dict(private=False)]}, **extra)


def clients_by_iss(*clients: CdsClient) -> dict[str, Any]:
    return {"clients": tuple(clients), "clients_by_iss": {c.iss: c for c in clients}}


def ec_key(kid: str = "k1") -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid}, private=True)


def client_jwt(key: ECKey | RSAKey, aud: str | list[str], *, iss: str = EHR,
               alg: str = "ES384", kid: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": kid or key.kid}
    body: Mapping[str, Any] = {"iss": iss, "aud": aud, "iat": now, "exp": now + 300,
                               "jti": str(uuid.uuid4()), **claims}
    return jwt.encode(header, dict(body), key, algorithms=[alg])


def patient_view(patient: str = "p-123", medications: list[Any] | None = None,
                 **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/pr-1", "patientId": patient}
    if medications is not None:
        context["medications"] = medications
    return {"hookInstance": str(uuid.uuid4()), "hook": "patient-view", "context": context,
            **extra}


def draft(rid: str, text: str, patient: str = "p-123") -> dict[str, Any]:
    return {"resource": {"resourceType": "MedicationRequest", "id": rid, "status": "draft",
                         "intent": "order", "subject": {"reference": f"Patient/{patient}"},
                         "medicationCodeableConcept": {"text": text}}}


def order_hook(hook: str, drafts: list[dict[str, Any]], medications: list[Any] | None = None,
               patient: str = "p-123", **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()), "hook": hook,
        "context": {"userId": "PractitionerRole/pr-7", "patientId": patient,
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": drafts}, **context}}
    if medications is not None:
        body["context"]["medications"] = medications
    return body
