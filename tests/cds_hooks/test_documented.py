"""The product documentation's CDS Hooks examples, as written there, against the shipped
knowledge base: discovery's documented entry, and the documented call at
POST /cds-hooks/drug-interaction-check with a bearer PASETO (``"medications": [...]`` is
the documentation's placeholder: filled with a list, the rest of the body is sent as is)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cds_hooks.support import cds_settings, checked_cards
from tests.support import ROOT, Harness, running_app

DOCS = ROOT.parent / "shared" / "reference" / "product-docs.md"
DISCOVERY = """{
  "services": [
    {
      "hook": "patient-view",
      "title": "Drug Interaction Check",
      "description": "Checks for drug-drug interactions",
      "id": "drug-interaction-check"
    }
  ]
}"""
INVOKE = """POST /cds-hooks/drug-interaction-check
Authorization: Bearer v4.public.eyJ...
Content-Type: application/json

{
  "hookInstance": "uuid",
  "hook": "patient-view",
  "context": {
    "patientId": "patient-uuid",
    "medications": [...]
  }
}"""


@pytest.fixture
async def shipped(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    async with running_app(cds_settings(tmp_path, sqlite_url)) as harness:  # the real checker
        yield harness


def test_the_examples_are_the_documentation_s() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert DISCOVERY in text and INVOKE in text


async def test_documented_discovery(shipped: Harness) -> None:
    documented = json.loads(DISCOVERY)["services"][0]
    services = (await shipped.client.get("/cds-services")).json()["services"]
    assert {k: services[0][k] for k in documented} == documented


def _documented_call(medications: list[object]) -> tuple[str, dict[str, str], bytes]:
    head, _, body = INVOKE.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, path = request_line.split(" ")
    assert method == "POST"
    headers = dict(line.split(": ", 1) for line in header_lines)
    return path, headers, body.replace("[...]", json.dumps(medications)).encode()


async def test_documented_call_with_a_paseto(shipped: Harness) -> None:
    path, headers, body = _documented_call(["Rifampicin 150 mg", "Dolutegravir 50 mg"])
    headers["Authorization"] = f"Bearer {shipped.token('clinician')}"  # a real v4.public
    response = await shipped.client.post(path, content=body, headers=headers)
    (card,) = checked_cards(response)
    assert card["indicator"] == "warning"  # major (documented: major -> warning)
    assert "rifampicin" in card["summary"].lower() and "dolutegravir" in card["summary"].lower()
    assert card["source"]["label"].startswith("WHO")
    assert "name `rifampicin`" in card["detail"] and "name `dolutegravir`" in card["detail"]


async def test_documented_call_without_medications_says_nothing(shipped: Harness) -> None:
    path, headers, body = _documented_call([])
    headers["Authorization"] = f"Bearer {shipped.token('integrator')}"
    response = await shipped.client.post(path, content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"cards": []}


async def test_the_documented_placeholder_token_is_refused(shipped: Harness) -> None:
    path, headers, body = _documented_call([])
    response = await shipped.client.post(path, content=body, headers=headers)
    assert response.status_code == 401  # "v4.public.eyJ..." is not a signed token
