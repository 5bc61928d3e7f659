"""Syndromic surveillance: the syndromes and their codes, the mapping to a DHIS2 tracker
program, daily counts, and the alert events sent to DHIS2 (standards.md 3.4).

Syndromes are counted from Conditions coded in ICD-10 (``http://hl7.org/fhir/sid/icd-10``, or
no system), by code prefix (the code with or without its dot):

- ``FEVER``: R50 (fever of other and unknown origin);
- ``AWD`` (acute watery diarrhoea): A09 (infectious gastroenteritis and colitis), R19.7
  (diarrhoea, unspecified);
- ``ILI_SARI``: J09, J10, J11 (influenza), J22 (unspecified acute lower respiratory
  infection: SARI);
- ``AFP`` (acute flaccid paralysis): A80 (acute poliomyelitis), G61.0 (Guillain-Barré),
  G82.0 (flaccid paraplegia).

The day is the Condition's onset (else recorded date), in UTC; entered-in-error, refuted and
deleted Conditions are not counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

SYNDROMES: dict[str, tuple[str, ...]] = {
    "FEVER": ("R50",),
    "AWD": ("A09", "R19.7"),
    "ILI_SARI": ("J09", "J10", "J11", "J22"),
    "AFP": ("A80", "G61.0", "G82.0"),
}
METHODS = ("C1", "C2", "C3")


@dataclass(frozen=True)
class SurveillanceMapping:
    """The mapping file's ``surveillance`` object: the tracker program and stage alerts are
    events of, the data elements of an event, the EARS method, and the IDSR data set sent
    with them as a dataValueSet."""

    program: str
    program_stage: str
    data_elements: dict[str, str]  # syndrome, cases, expected, statistic, method -> uid
    method: str = "C2"
    sd_floor: float = 1.0
    data_set: str | None = None  # our key of the IDSR data set


EVENT_FIELDS = ("syndrome", "cases", "expected", "statistic", "method")


@dataclass(frozen=True)
class SyndromeCount:
    """Conditions of one syndrome, one facility, one day: counted by the database."""

    organization_id: str
    syndrome: str
    day: date
    cases: int


@dataclass(frozen=True)
class Alert:
    org_unit: str  # DHIS2 uid
    syndrome: str
    day: date
    cases: int
    expected: float
    statistic: float
    method: str


def event_uid(org_unit: str, syndrome: str, day: date) -> str:
    """A DHIS2 UID fixed by org unit, syndrome and day: sending the same alert again updates
    the event instead of creating another (11 characters, a letter first)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(f"cari-ears|{org_unit}|{syndrome}|{day.isoformat()}".encode())
    raw = int.from_bytes(digest.digest(), "big")
    chars = [alphabet[raw % 52]]
    raw //= 52
    for _ in range(10):
        chars.append(alphabet[raw % 62])
        raw //= 62
    return "".join(chars)


def event_of(alert: Alert, mapping: SurveillanceMapping) -> dict[str, Any]:
    """One tracker event (``POST /api/tracker``), values as strings."""
    values = {"syndrome": alert.syndrome, "cases": str(alert.cases),
              "expected": f"{alert.expected:.2f}", "statistic": f"{alert.statistic:.2f}",
              "method": alert.method}
    return {"event": event_uid(alert.org_unit, alert.syndrome, alert.day),
            "program": mapping.program, "programStage": mapping.program_stage,
            "orgUnit": alert.org_unit, "occurredAt": alert.day.isoformat(),
            "status": "COMPLETED",
            "dataValues": [{"dataElement": mapping.data_elements[k], "value": values[k]}
                           for k in EVENT_FIELDS if k in mapping.data_elements]}
