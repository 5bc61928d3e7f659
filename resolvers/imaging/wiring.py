"""The imaging use cases, built once by the composition root from their adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from resolvers.audit.trail import AuditTrail
from resolvers.fhir.ports import ResourceValidator
from resolvers.fhir.service import FhirUseCases
from resolvers.imaging.access import StudyAccess
from resolvers.imaging.annotations import FHIR_DESTINATION, SR_DESTINATION, AnnotationUseCases
from resolvers.imaging.fhir_copy import AnnotationObservations
from resolvers.imaging.model import ImagingConfig
from resolvers.imaging.ports import ImagingAdapters, PatientIdentifiers
from resolvers.imaging.proxy import ViewerProxy
from resolvers.imaging.sr_delivery import StructuredReportDelivery
from resolvers.mpi.patients import PatientUseCases
from resolvers.outbox.delivery import DeliveryHandler
from resolvers.principal import Caller


class MpiIdentifiers:
    """A patient's identifiers through the MPI's own (audited, role-checked) read."""

    def __init__(self, patients: PatientUseCases) -> None:
        self._patients = patients

    async def identifiers(self, caller: Caller, patient_id: str) -> Sequence[tuple[str, str]]:
        patient = await self._patients.get(caller, patient_id)
        return [(i.system, i.value) for i in patient.identifiers]


@dataclass(frozen=True)
class ImagingServices:
    access: StudyAccess
    proxy: ViewerProxy
    annotations: AnnotationUseCases
    handlers: dict[str, DeliveryHandler]  # the SR and FHIR writers, for the outbox worker
    configured: bool  # a PACS is configured (CARI_PACS_BASE_URL)


def build_imaging(adapters: ImagingAdapters, config: ImagingConfig,
                  patients: PatientIdentifiers | PatientUseCases, fhir: FhirUseCases,
                  audit: AuditTrail, validator: ResourceValidator,
                  now: Callable[[], datetime]) -> ImagingServices:
    identifiers = MpiIdentifiers(patients) if isinstance(patients, PatientUseCases) \
        else patients
    return ImagingServices(
        access=StudyAccess(adapters.pacs, adapters.tokens, adapters.store, identifiers, audit,
                           validator, config, now),
        proxy=ViewerProxy(adapters.pacs, adapters.tokens, audit, now),
        annotations=AnnotationUseCases(adapters.store, audit, config, now),
        handlers={SR_DESTINATION: StructuredReportDelivery(adapters.store, adapters.pacs,
                                                           adapters.reports),
                  FHIR_DESTINATION: AnnotationObservations(adapters.store, fhir)},
        configured=adapters.configured)
