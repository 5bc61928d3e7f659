"""MatchRecord: the normalised, comparable form of a patient or of a match candidate.

Built once when a patient is indexed (and stored beside the blocking keys), so a lookup
compares pre-normalised strings instead of re-folding every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from resolvers.mpi.matching import MatchCandidate
from resolvers.mpi.model import Identifier, Patient
from resolvers.mpi.scoring.normalize import name_tokens, phone_suffix, text_tokens

_SEXES = {"male": "m", "female": "f", "m": "m", "f": "f"}


@dataclass(frozen=True)
class MatchRecord:
    given: tuple[str, ...] = ()        # folded name parts, in order
    family: tuple[str, ...] = ()       # folded family-name parts ("wolde", "mariam")
    birth_date: str = ""               # YYYYMMDD or ""
    sex: str = ""                      # "m", "f" or "" (other/unknown/missing)
    phone: str = ""                    # last 9 digits or ""
    address: tuple[str, ...] = ()      # folded address tokens
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)

    @property
    def birth_year(self) -> str:
        return self.birth_date[:4]

    def to_json(self) -> dict[str, Any]:
        return {"g": list(self.given), "f": list(self.family), "b": self.birth_date,
                "s": self.sex, "p": self.phone, "a": list(self.address),
                "i": [list(i) for i in self.identifiers]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchRecord:
        return cls(given=tuple(data.get("g") or ()), family=tuple(data.get("f") or ()),
                   birth_date=str(data.get("b") or ""), sex=str(data.get("s") or ""),
                   phone=str(data.get("p") or ""), address=tuple(data.get("a") or ()),
                   identifiers=tuple((str(s), str(v)) for s, v in data.get("i") or ()))


_ADDRESS_PARTS = ("city", "district", "state", "postalCode")


def fhir_address_text(document: dict[str, Any]) -> str | None:
    """A FHIR Patient's first address as one line of words (lines, city, district, state,
    postal code), the form the address comparator reads; None when it has none."""
    addresses = [a for a in document.get("address") or [] if isinstance(a, dict)]
    if not addresses:
        return None
    first = addresses[0]
    words = [str(line) for line in first.get("line") or [] if isinstance(line, str)]
    words += [str(first[k]) for k in _ADDRESS_PARTS if isinstance(first.get(k), str)]
    if not words and isinstance(first.get("text"), str):
        words = [first["text"]]
    return " ".join(words) or None


def _given(parts: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(t for part in parts for t in name_tokens(part))


def _date(value: date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _idents(identifiers: tuple[Identifier, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(dict.fromkeys((i.system, i.value.strip()) for i in identifiers if i.value.strip()))


def build_record(*, given: tuple[str, ...] | list[str] = (), family: str | None = None,
                 birth_date: str | date | None = None, gender: str | None = None,
                 phone: str | None = None, address: str | None = None,
                 identifiers: tuple[Identifier, ...] = ()) -> MatchRecord:
    if isinstance(birth_date, date):
        dob = _date(birth_date)
    else:
        digits = "".join(ch for ch in birth_date or "" if ch.isdigit())
        dob = digits if len(digits) == 8 else ""
    return MatchRecord(
        given=_given(given), family=tuple(name_tokens(family)), birth_date=dob,
        sex=_SEXES.get((gender or "").strip().lower(), ""), phone=phone_suffix(phone),
        address=tuple(text_tokens(address)), identifiers=_idents(identifiers))


def record_from_candidate(candidate: MatchCandidate) -> MatchRecord:
    return build_record(given=candidate.given, family=candidate.family,
                        birth_date=candidate.birth_date, gender=candidate.gender,
                        phone=candidate.phone, address=candidate.address,
                        identifiers=candidate.identifiers)


def record_from_patient(patient: Patient, *, address: str | None = None) -> MatchRecord:
    return build_record(given=patient.given, family=patient.family,
                        birth_date=patient.birth_date, gender=patient.gender,
                        phone=patient.phone, address=address, identifiers=patient.identifiers)
