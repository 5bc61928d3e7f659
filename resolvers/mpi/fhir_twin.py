"""The MPI patient twin of a FHIR Patient: one patient, one id, two shapes. A FHIR write of a
Patient passes this writer (bound to its unit of work) to resolvers.fhir.writer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from resolvers.fhir.errors import FhirProblem, problem
from resolvers.fhir.model import StoredResource
from resolvers.fhir.ports import TwinWriter
from resolvers.mpi.fhir_mapping import draft_from_fhir
from resolvers.mpi.model import Identifier, Patient, PatientDraft
from resolvers.mpi.ports import MpiUnitOfWork

MAX_IDENTIFIER = 200  # as on the MPI's REST surface (resolvers/mpi/validation.py)
MAX_PATIENT_ID = 36
MAX_PHONE = 32


def patient_twin(uow: MpiUnitOfWork) -> TwinWriter:
    async def write(stored: StoredResource, now: datetime) -> None:
        await sync_patient(uow, stored, now)
    return write


def checked_draft(stored: StoredResource) -> PatientDraft:
    """The MPI fields of a FHIR Patient, refused (422) where the MPI cannot keep them."""
    draft = draft_from_fhir(stored.document)
    if len(stored.id) > MAX_PATIENT_ID:
        raise problem(422, "value", f"a Patient id may have at most {MAX_PATIENT_ID} characters "
                      "here (the MPI's ids are UUIDs)", "Patient.id")
    if draft.family is not None and len(draft.family) > MAX_IDENTIFIER:
        raise problem(422, "value", f"a family name may have at most {MAX_IDENTIFIER} "
                      "characters", "Patient.name.family")
    if draft.phone is not None and len(draft.phone) > MAX_PHONE:
        draft = replace(draft, phone=None)  # not a phone number the matcher could compare
    for ident in draft.identifiers:
        if len(ident.system) > MAX_IDENTIFIER or len(ident.value) > MAX_IDENTIFIER:
            # The MPI looks patients up by identifier: it keeps what it can look up.
            raise problem(422, "value", f"a patient identifier's system and value may have at "
                          f"most {MAX_IDENTIFIER} characters each", "Patient.identifier")
    return draft


def duplicate_identifier(ident: Identifier, other_id: str) -> FhirProblem:
    return problem(409, "duplicate", f"another patient (Patient/{other_id}) already has the "
                   f"identifier {ident.system}|{ident.value}", "Patient.identifier")


async def sync_patient(uow: MpiUnitOfWork, stored: StoredResource, now: datetime) -> None:
    """Keep the MPI row of a FHIR Patient in step (identifiers stay unique across patients)."""
    draft = checked_draft(stored)
    for ident in draft.identifiers:
        other = await uow.patients.find_by_identifier(ident)
        if other is not None and other.id != stored.id:
            raise duplicate_identifier(ident, other.id)
    organization_id = draft.organization_id
    if organization_id and not await uow.organizations.get_many([organization_id]):
        organization_id = None  # a FHIR-only organization: the MPI row does not link it
    current = (await uow.patients.get_many([stored.id])).get(stored.id)
    patient = Patient(
        id=stored.id, identifiers=draft.identifiers, family=draft.family, given=draft.given,
        birth_date=draft.birth_date, gender=draft.gender, phone=draft.phone,
        organization_id=organization_id, version=current.version + 1 if current else 1,
        created_at=current.created_at if current else now, updated_at=now)
    if current is None:
        await uow.patients.add(patient)
    elif not await uow.patients.update(patient, expected_version=current.version):
        raise problem(409, "conflict", "the patient was changed concurrently")
