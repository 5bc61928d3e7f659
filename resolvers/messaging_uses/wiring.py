"""The patient uses of messaging, built once by the composition root: their outbox handlers
(watch notices of Appointment and MedicationRequest, linked lab results), the quick-reply
handler of ``appointment:`` payloads, and which FHIR types the store must announce."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from resolvers.audit.trail import AuditWriter
from resolvers.clock import Clock
from resolvers.fhir.ports import FhirUnitOfWorkFactory
from resolvers.fhir.writer import MirrorConfig
from resolvers.labs.patient_notices import LAB_RESULT_LINKED
from resolvers.labs.ports import LabUnitOfWorkFactory
from resolvers.messaging.ports import MessageScheduler, QuickReplyHandler
from resolvers.messaging_uses import appointments, refills
from resolvers.messaging_uses.appointment_replies import AppointmentReplies
from resolvers.messaging_uses.lab_results import LabResultReady
from resolvers.messaging_uses.model import APPOINTMENT_WATCH, REFILL_WATCH, MessagingUsesConfig
from resolvers.messaging_uses.reconciler import MessagePlan, Reconciler
from resolvers.outbox.delivery import DeliveryHandler

APPOINTMENTS = MessagePlan("Appointment", appointments.KIND, appointments.signature,
                           appointments.appointment_messages)
REFILLS = MessagePlan("MedicationRequest", refills.KIND, refills.signature,
                      refills.refill_messages,
                      explain=lambda doc: refills.refill_supply(doc).reason)


def watchers(config: MessagingUsesConfig) -> dict[str, tuple[str, ...]]:
    """For MirrorConfig.watchers: the types whose versions the uses that are on act on."""
    out: dict[str, tuple[str, ...]] = {}
    if config.appointments_on:
        out["Appointment"] = (APPOINTMENT_WATCH,)
    if config.refills_on:
        out["MedicationRequest"] = (REFILL_WATCH,)
    return out


@dataclass(frozen=True)
class MessagingUses:
    handlers: Mapping[str, DeliveryHandler] = field(default_factory=dict)
    quick_replies: Mapping[str, QuickReplyHandler] = field(default_factory=dict)  # by prefix


def build_messaging_uses(config: MessagingUsesConfig, scheduler: MessageScheduler, *,
                         fhir_writes: FhirUnitOfWorkFactory, fhir_reads: FhirUnitOfWorkFactory,
                         labs: LabUnitOfWorkFactory, mirror: MirrorConfig, clock: Clock,
                         audit: AuditWriter) -> MessagingUses:
    """Handlers are registered for every destination that may hold rows, even of a use
    turned off since (they then finish, or cancel, what was started)."""
    handlers: dict[str, DeliveryHandler] = {
        APPOINTMENT_WATCH: Reconciler(APPOINTMENTS, fhir_reads, scheduler, clock, config,
                                      audit),
        REFILL_WATCH: Reconciler(REFILLS, fhir_reads, scheduler, clock, config, audit),
        LAB_RESULT_LINKED: LabResultReady(labs, scheduler, clock, config),
    }
    replies: dict[str, QuickReplyHandler] = {
        "appointment:": AppointmentReplies(fhir_writes, clock, mirror)}
    return MessagingUses(handlers, replies)


__all__: Sequence[str] = ["MessagingUses", "build_messaging_uses", "watchers"]
