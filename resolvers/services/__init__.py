"""The use cases both surfaces call, bundled once by the composition root (a package of its
own: it depends on every capability, and no capability depends on it)."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.audit.trail import AuditTrail
from resolvers.authn import Authenticator, HealthProbe
from resolvers.cds.hooks.wiring import CdsServices
from resolvers.crossborder.importing import CrossBorderImport
from resolvers.crossborder.lookup import CrossBorderLookup
from resolvers.directory.organizations import OrganizationUseCases
from resolvers.fhir.bundles import BundleProcessor
from resolvers.fhir.patient_source import PatientDocuments
from resolvers.fhir.service import FhirUseCases
from resolvers.imaging.wiring import ImagingServices
from resolvers.labs.alerting.subscription import LabAlertSubscriptions
from resolvers.labs.alerts import LabAlerts
from resolvers.labs.ingest import LabIngest
from resolvers.labs.panic_values import PanicValueCheck
from resolvers.labs.queries import LabQueries
from resolvers.labs.review import MatchReview
from resolvers.messaging.wiring import MessagingServices
from resolvers.mpi.patients import PatientUseCases
from resolvers.mpi.pdqm import PatientMatchService
from resolvers.mpi.register_profile import RegisterProfiling
from resolvers.notifications.wiring import NotificationServices
from resolvers.operations.failures.report import Failures
from resolvers.operations.health.report import OperationsHealth
from resolvers.operations.messages.log import MessageLog
from resolvers.operations.messages.refusals import RefusedMessages
from resolvers.operations.traffic.stats import TrafficStats
from resolvers.outbox.admin import OutboxAdmin
from resolvers.outbox.destinations import OutboxDestinations
from resolvers.payments.wiring import PaymentServices
from resolvers.public_health.wiring import PublicHealthServices
from resolvers.smart.wiring import SmartServices
from resolvers.webhooks.service import WebhookUseCases

__all__ = ["Authenticator", "HealthProbe", "Services"]


@dataclass(frozen=True)
class Services:
    patients: PatientUseCases
    organizations: OrganizationUseCases
    audit: AuditTrail
    outbox: OutboxAdmin
    outbox_destinations: OutboxDestinations  # pause and resume a destination
    authenticator: Authenticator
    health: HealthProbe
    fhir: FhirUseCases
    bundles: BundleProcessor
    patient_documents: PatientDocuments
    labs: LabIngest
    lab_queries: LabQueries
    lab_review: MatchReview
    lab_alerts: LabAlerts
    lab_alert_subscriptions: LabAlertSubscriptions  # GraphQL labAlertRaised
    panic_values: PanicValueCheck
    patient_match: PatientMatchService
    mpi_profile: RegisterProfiling
    webhooks: WebhookUseCases
    payments: PaymentServices
    smart: SmartServices
    cross_border: CrossBorderLookup
    cross_border_import: CrossBorderImport
    public_health: PublicHealthServices
    cds: CdsServices
    notifications: NotificationServices
    imaging: ImagingServices
    messaging: MessagingServices
    message_log: MessageLog  # the console's inbound message log
    refused_messages: RefusedMessages  # what intake refused before storage, for the log
    traffic: TrafficStats  # the console's overview
    operations_health: OperationsHealth  # the console's health page
    operations_failures: Failures  # the console's failures page
