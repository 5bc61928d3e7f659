"""FHIR resources as GraphQL federation entities with real fields.

Each type keeps its source document privately and resolves references through the
per-request DataLoaders: the subject becomes the MPI ``Patient`` entity.
"""

from typing import Any

import strawberry

from resolvers.fhir.model import StoredResource
from resolvers.fhir.search_params import patient_of
from schema.fhir_datatypes import (
    CodeableConcept,
    ContactPoint,
    FhirIdentifier,
    HumanName,
    Meta,
    Period,
    Quantity,
    Reference,
    ReferenceRange,
    _list,
    _str,
)
from schema.graphql_context import Info
from schema.types import Patient


def _meta(doc: dict[str, Any]) -> Meta:
    meta = doc.get("meta") or {}
    return Meta(version_id=_str(meta, "versionId"), last_updated=_str(meta, "lastUpdated"))


async def _patient(info: Info, doc: dict[str, Any]) -> Patient | None:
    pid = patient_of(doc)
    if pid is None:
        return None
    found = await info.context.loaders.patient.load(pid)
    return Patient.of(found) if found else None


async def _reference(info: Info, doc: dict[str, Any], resource_type: str,
                     ref: Any) -> StoredResource | None:
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        return None
    parts = ref["reference"].split("/")
    if len(parts) < 2 or parts[-2] != resource_type:
        return None
    return await info.context.loaders.fhir.load((resource_type, parts[-1]))


@strawberry.interface
class FhirResource:
    id: strawberry.ID
    meta: Meta
    doc: strawberry.Private[dict[str, Any]]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Any:
        raise NotImplementedError

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Any:
        """Federation entity lookup; every resource type is named like its GraphQL type."""
        found = await info.context.loaders.fhir.load((cls.__name__, str(id)))
        return cls.of(found.document) if found else None


@strawberry.interface
class PatientRecord(FhirResource):
    subject: Reference | None

    @strawberry.field(description="The patient this record is about (MPI entity)")
    async def patient(self, info: Info) -> Patient | None:
        return await _patient(info, self.doc)


def _base(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": strawberry.ID(str(doc.get("id"))), "meta": _meta(doc), "doc": doc}


def _subject(doc: dict[str, Any]) -> dict[str, Any]:
    return {**_base(doc), "subject": Reference.of(doc.get("subject") or doc.get("patient"))}


@strawberry.federation.type(keys=["id"])
class Observation(PatientRecord):
    status: str
    category: list[CodeableConcept]
    code: CodeableConcept | None
    effective_date_time: str | None
    effective_period: Period | None
    issued: str | None
    value_quantity: Quantity | None
    value_string: str | None
    value_codeable_concept: CodeableConcept | None
    interpretation: list[CodeableConcept]
    reference_range: list[ReferenceRange]
    notes: list[str]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Observation":
        return cls(
            **_subject(doc), status=str(doc.get("status")),
            category=CodeableConcept.many(doc, "category"),
            code=CodeableConcept.of(doc.get("code")),
            effective_date_time=_str(doc, "effectiveDateTime"),
            effective_period=Period.of(doc.get("effectivePeriod")), issued=_str(doc, "issued"),
            value_quantity=Quantity.of(doc.get("valueQuantity")),
            value_string=_str(doc, "valueString"),
            value_codeable_concept=CodeableConcept.of(doc.get("valueCodeableConcept")),
            interpretation=CodeableConcept.many(doc, "interpretation"),
            reference_range=[ReferenceRange(low=Quantity.of(r.get("low")),
                                            high=Quantity.of(r.get("high")),
                                            text=_str(r, "text"))
                             for r in _list(doc, "referenceRange")],
            notes=[n["text"] for n in _list(doc, "note") if isinstance(n.get("text"), str)])


@strawberry.federation.type(keys=["id"])
class DiagnosticReport(PatientRecord):
    status: str
    category: list[CodeableConcept]
    code: CodeableConcept | None
    effective_date_time: str | None
    issued: str | None
    conclusion: str | None

    @strawberry.field(description="The observations this report groups")
    async def results(self, info: Info) -> list[Observation]:
        found = [await _reference(info, self.doc, "Observation", r)
                 for r in _list(self.doc, "result")]
        return [Observation.of(f.document) for f in found if f is not None]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "DiagnosticReport":
        return cls(**_subject(doc), status=str(doc.get("status")),
                   category=CodeableConcept.many(doc, "category"),
                   code=CodeableConcept.of(doc.get("code")),
                   effective_date_time=_str(doc, "effectiveDateTime"), issued=_str(doc, "issued"),
                   conclusion=_str(doc, "conclusion"))


@strawberry.federation.type(keys=["id"])
class Encounter(PatientRecord):
    status: str
    class_code: str | None
    type: list[CodeableConcept]
    period: Period | None
    reason_code: list[CodeableConcept]
    service_provider: Reference | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Encounter":
        klass = doc.get("class")
        return cls(**_subject(doc), status=str(doc.get("status")),
                   class_code=_str(klass, "code") if isinstance(klass, dict) else None,
                   type=CodeableConcept.many(doc, "type"), period=Period.of(doc.get("period")),
                   reason_code=CodeableConcept.many(doc, "reasonCode"),
                   service_provider=Reference.of(doc.get("serviceProvider")))


@strawberry.federation.type(keys=["id"])
class MedicationRequest(PatientRecord):
    status: str
    intent: str
    medication: CodeableConcept | None
    medication_reference: Reference | None
    authored_on: str | None
    requester: Reference | None
    dosage_instructions: list[str]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "MedicationRequest":
        return cls(**_subject(doc), status=str(doc.get("status")), intent=str(doc.get("intent")),
                   medication=CodeableConcept.of(doc.get("medicationCodeableConcept")),
                   medication_reference=Reference.of(doc.get("medicationReference")),
                   authored_on=_str(doc, "authoredOn"),
                   requester=Reference.of(doc.get("requester")),
                   dosage_instructions=[d["text"] for d in _list(doc, "dosageInstruction")
                                        if isinstance(d.get("text"), str)])


@strawberry.federation.type(keys=["id"])
class Condition(PatientRecord):
    clinical_status: CodeableConcept | None
    verification_status: CodeableConcept | None
    category: list[CodeableConcept]
    code: CodeableConcept | None
    onset_date_time: str | None
    recorded_date: str | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Condition":
        return cls(**_subject(doc),
                   clinical_status=CodeableConcept.of(doc.get("clinicalStatus")),
                   verification_status=CodeableConcept.of(doc.get("verificationStatus")),
                   category=CodeableConcept.many(doc, "category"),
                   code=CodeableConcept.of(doc.get("code")),
                   onset_date_time=_str(doc, "onsetDateTime"),
                   recorded_date=_str(doc, "recordedDate"))


@strawberry.federation.type(keys=["id"])
class AllergyIntolerance(PatientRecord):
    clinical_status: CodeableConcept | None
    verification_status: CodeableConcept | None
    type: str | None
    category: list[str]
    criticality: str | None
    code: CodeableConcept | None
    recorded_date: str | None
    manifestations: list[CodeableConcept]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "AllergyIntolerance":
        return cls(**_subject(doc),
                   clinical_status=CodeableConcept.of(doc.get("clinicalStatus")),
                   verification_status=CodeableConcept.of(doc.get("verificationStatus")),
                   type=_str(doc, "type"),
                   category=[c for c in doc.get("category") or [] if isinstance(c, str)],
                   criticality=_str(doc, "criticality"), code=CodeableConcept.of(doc.get("code")),
                   recorded_date=_str(doc, "recordedDate"),
                   manifestations=[m for r in _list(doc, "reaction")
                                   for m in CodeableConcept.many(r, "manifestation")])


@strawberry.federation.type(keys=["id"])
class Procedure(PatientRecord):
    status: str
    code: CodeableConcept | None
    performed_date_time: str | None
    performed_period: Period | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Procedure":
        return cls(**_subject(doc), status=str(doc.get("status")),
                   code=CodeableConcept.of(doc.get("code")),
                   performed_date_time=_str(doc, "performedDateTime"),
                   performed_period=Period.of(doc.get("performedPeriod")))


@strawberry.federation.type(keys=["id"])
class Immunization(PatientRecord):
    status: str
    vaccine_code: CodeableConcept | None
    occurrence_date_time: str | None
    lot_number: str | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Immunization":
        return cls(**_subject(doc), status=str(doc.get("status")),
                   vaccine_code=CodeableConcept.of(doc.get("vaccineCode")),
                   occurrence_date_time=_str(doc, "occurrenceDateTime"),
                   lot_number=_str(doc, "lotNumber"))


@strawberry.federation.type(keys=["id"])
class Practitioner(FhirResource):
    identifiers: list[FhirIdentifier]
    names: list[HumanName]
    telecom: list[ContactPoint]
    gender: str | None
    active: bool | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Practitioner":
        active = doc.get("active")
        return cls(**_base(doc), identifiers=FhirIdentifier.many(doc), names=HumanName.many(doc),
                   telecom=ContactPoint.many(doc), gender=_str(doc, "gender"),
                   active=active if isinstance(active, bool) else None)


@strawberry.type
class AppointmentParticipant:
    actor: Reference | None
    status: str | None
    required: str | None


@strawberry.federation.type(keys=["id"])
class Appointment(FhirResource):
    status: str
    start: str | None
    end: str | None
    description: str | None
    service_type: list[CodeableConcept]
    participants: list[AppointmentParticipant]
    cancelation_reason: CodeableConcept | None

    @strawberry.field(description="The patient among the participants (MPI entity)")
    async def patient(self, info: Info) -> Patient | None:
        return await _patient(info, self.doc)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "Appointment":
        return cls(**_base(doc), status=str(doc.get("status")), start=_str(doc, "start"),
                   end=_str(doc, "end"), description=_str(doc, "description"),
                   service_type=CodeableConcept.many(doc, "serviceType"),
                   participants=[AppointmentParticipant(
                       actor=Reference.of(p.get("actor")), status=_str(p, "status"),
                       required=_str(p, "required")) for p in _list(doc, "participant")],
                   cancelation_reason=CodeableConcept.of(doc.get("cancelationReason")))

@strawberry.federation.type(keys=["id"])
class AppointmentResponse(FhirResource):
    appointment: Reference | None
    actor: Reference | None
    participant_status: str
    start: str | None
    end: str | None
    comment: str | None

    @strawberry.field(description="The patient who answered, when the actor is one (MPI entity)")
    async def patient(self, info: Info) -> Patient | None:
        return await _patient(info, self.doc)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "AppointmentResponse":
        return cls(**_base(doc), appointment=Reference.of(doc.get("appointment")),
                   actor=Reference.of(doc.get("actor")),
                   participant_status=str(doc.get("participantStatus")),
                   start=_str(doc, "start"), end=_str(doc, "end"),
                   comment=_str(doc, "comment"))


GRAPHQL_TYPES: dict[str, Any] = {
    "Observation": Observation, "DiagnosticReport": DiagnosticReport, "Encounter": Encounter,
    "MedicationRequest": MedicationRequest, "Condition": Condition,
    "AllergyIntolerance": AllergyIntolerance, "Procedure": Procedure,
    "Immunization": Immunization, "Practitioner": Practitioner, "Appointment": Appointment,
    "AppointmentResponse": AppointmentResponse,
}


def to_graphql(stored: StoredResource) -> Any:
    return GRAPHQL_TYPES[stored.resource_type].of(stored.document)
