"""An ORU^R01 message as the lab use cases see it, whatever parsed it.

Texts are already unescaped (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\, \\.br\\ as a newline) and decoded
to str (MSH-18 charset honoured). Times are kept as the HL7 text (``YYYYMMDD[HHMM[SS]][+ZZZZ]``)
and also converted to ISO 8601 where they parse (``*_iso``), so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class UnsupportedMessage(Exception):
    """Anything but ORU^R01 (HTTP 422, ACK AR); ``message_type`` names what was sent."""

    def __init__(self, message_type: str) -> None:
        super().__init__(f"only ORU^R01 is accepted, not {message_type or 'an empty MSH-9'}")
        self.message_type = message_type


class MalformedMessage(Exception):
    """Not parseable as HL7v2 (HTTP 400, ACK AR/AE); the text says what is wrong.

    ``location`` is an ERR-2 style position (e.g. ``PID^1^3^1^1``) when one is known, and
    ``hl7_error_code`` a table 0357 code (101 required field missing, 102 data type, ...).
    """

    def __init__(self, message: str, *, location: str = "", hl7_error_code: str = "100") -> None:
        super().__init__(message)
        self.location = location
        self.hl7_error_code = hl7_error_code


@dataclass(frozen=True)
class ParseWarning:
    """Something the sender left out or bent that ingest accepted by assuming a value.

    Returned to the sender (REST ``data.warnings``, an ERR with severity W in the ACK) and
    recorded on what was stored, so nobody mistakes an assumption for what the lab said.
    """

    location: str  # ERR-2 style position, e.g. OBX^1^11
    message: str  # what was missing or bent, and what was assumed
    hl7_error_code: str = "0"  # table 0357 (0 accepted, 101 required field missing, ...)


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    timestamp: str
    message_type: str  # e.g. ORU^R01
    control_id: str  # MSH-10
    processing_id: str  # MSH-11
    version: str  # MSH-12
    accept_ack_type: str = ""  # MSH-15: AL NE ER SU or "" (original mode when both empty)
    application_ack_type: str = ""  # MSH-16
    charset: str = ""  # MSH-18


@dataclass(frozen=True)
class PatientIdentifier:
    value: str
    assigning_authority: str  # namespace, e.g. DISTRICT_HOSP
    authority_universal_id: str  # e.g. 2.16.840.1.113883.19.5
    authority_id_type: str  # e.g. ISO
    id_type: str  # MR, NI, PI, ...

    @property
    def system(self) -> str:
        """A URI for FHIR and the MPI: urn:oid:... when the authority has an ISO OID."""
        if self.authority_universal_id and self.authority_id_type.upper() == "ISO":
            return f"urn:oid:{self.authority_universal_id}"
        if self.authority_universal_id:
            return self.authority_universal_id
        return f"urn:cari:hl7-authority:{self.assigning_authority or 'unknown'}"


@dataclass(frozen=True)
class PatientSegment:
    identifiers: tuple[PatientIdentifier, ...]
    family: str
    given: tuple[str, ...]  # given then middle names
    birth_date: str  # HL7 text (PID-7)
    birth_date_iso: str | None
    sex: str  # PID-8 as sent
    address_lines: tuple[str, ...] = ()
    city: str = ""
    district: str = ""
    country: str = ""
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObservationSegment:
    set_id: str
    value_type: str  # OBX-2
    code: str  # OBX-3.1
    code_text: str  # OBX-3.2
    code_system: str  # OBX-3.3 (LN, SCT, L, ...)
    sub_id: str  # OBX-4
    values: tuple[str, ...]  # OBX-5 repetitions, unescaped; SN/CE kept with ^ components
    units: str  # OBX-6.1
    units_system: str  # OBX-6.3
    reference_range: str  # OBX-7
    abnormal_flags: tuple[str, ...]  # OBX-8 repetitions
    status: str  # OBX-11
    observed_at: str  # OBX-14
    observed_at_iso: str | None
    notes: tuple[str, ...] = ()  # NTE-3 after this OBX
    assumptions: tuple[str, ...] = ()  # what ingest assumed for this OBX (stored as a note)


@dataclass(frozen=True)
class OrderSegment:
    set_id: str
    placer_number: str  # OBR-2.1
    filler_number: str  # OBR-3.1
    code: str  # OBR-4.1
    code_text: str
    code_system: str
    observed_at: str  # OBR-7
    observed_at_iso: str | None
    status: str  # OBR-25
    ordering_provider: str  # OBR-16 (id^family^given)
    observations: tuple[ObservationSegment, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OruMessage:
    header: Header
    patient: PatientSegment
    orders: tuple[OrderSegment, ...]
    patient_class: str = ""  # PV1-2
    patient_notes: tuple[str, ...] = field(default=())
    warnings: tuple[ParseWarning, ...] = field(default=())  # every assumption, in order
