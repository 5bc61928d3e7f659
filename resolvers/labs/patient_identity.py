"""Who a lab message is about: PID-3 identifiers as systems, match demographics, and the
provisional patient made when nobody in the MPI comes close.

A PID-3 identifier means something only together with who assigned it. Most laboratory
systems send their own number with no assigning authority (PID-3.4), so such an identifier
is scoped to the sender (MSH-4, else MSH-3): ``PAT001`` from two laboratories is two
patients. The operator's table (``CARI_LAB_IDENTIFIER_SYSTEMS``) names the real system of a
sender or an authority, e.g. a facility MRN that registration desks also record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from resolvers.labs.oru import OruMessage, PatientIdentifier
from resolvers.mpi.fhir_mapping import fhir_from_draft
from resolvers.mpi.matching import MatchCandidate
from resolvers.mpi.model import Identifier, PatientDraft

GENDER = {"F": "female", "M": "male", "U": "unknown", "O": "other", "A": "other", "N": "other"}
PROVISIONAL_TAG = {"system": "urn:cari:mpi", "code": "provisional",
                   "display": "Provisional: created from a laboratory result; confirm identity"}


def sender_of(message: OruMessage) -> str:
    header = message.header
    return header.sending_facility or header.sending_application or "unknown"


def sender_system(sender: str) -> str:
    """The default system of identifiers a sender assigns itself."""
    return f"urn:cari:lab:{sender}:patient-id"


class IdentifierSystems:
    """Maps PID-3 identifiers to identifier systems (see the module docstring)."""

    def __init__(self, table: Iterable[tuple[str, str]] = ()) -> None:
        # Senders and authorities are namespaces: compare them case-insensitively.
        self._table: Mapping[str, str] = {name.upper(): system for name, system in table}

    def system_of(self, identifier: PatientIdentifier, sender: str) -> str:
        if identifier.authority_universal_id:
            return identifier.system  # urn:oid:... or the universal id as sent
        if identifier.assigning_authority:
            return self._table.get(identifier.assigning_authority.upper(), identifier.system)
        return self._table.get(sender.upper(), sender_system(sender))

    def identifiers(self, message: OruMessage) -> tuple[Identifier, ...]:
        sender = sender_of(message)
        found = (Identifier(self.system_of(i, sender), i.value.strip())
                 for i in message.patient.identifiers if i.value.strip())
        return tuple(dict.fromkeys(found))


def _birth_date(message: OruMessage) -> date | None:
    text = message.patient.birth_date_iso
    if not text or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def candidate_from(message: OruMessage, systems: IdentifierSystems) -> MatchCandidate:
    pid = message.patient
    identifiers = systems.identifiers(message)
    return MatchCandidate(
        identifiers=identifiers, family=pid.family or None, given=pid.given,
        birth_date=_birth_date(message),
        gender=GENDER.get(pid.sex.upper()) if pid.sex else None,
        phone=pid.phones[0] if pid.phones else None,
        address=" ".join(x for x in (*pid.address_lines, pid.city, pid.district) if x) or None,
        trusted_identifier_systems=frozenset(i.system for i in identifiers))


def provisional_patient(message: OruMessage, candidate: MatchCandidate,
                        patient_id: str) -> dict[str, Any]:
    """A FHIR Patient from the PID, tagged provisional, its source the sending laboratory:
    the MPI's own mapping of the demographics, plus every phone and the address."""
    pid = message.patient
    doc = fhir_from_draft(patient_id, PatientDraft(
        identifiers=candidate.identifiers, family=pid.family or None, given=pid.given,
        birth_date=candidate.birth_date, gender=candidate.gender))
    doc["meta"] = {"tag": [PROVISIONAL_TAG], "source": f"urn:cari:lab:{sender_of(message)}"}
    doc["active"] = True
    if pid.phones:
        doc["telecom"] = [{"system": "phone", "value": p.replace(" ", "")} for p in pid.phones]
    if pid.address_lines or pid.city or pid.district or pid.country:
        address: dict[str, Any] = {}
        if pid.address_lines:
            address["line"] = list(pid.address_lines)
        for key, value in (("city", pid.city), ("district", pid.district),
                           ("country", pid.country)):
            if value:
                address[key] = value
        doc["address"] = [address]
    return doc
