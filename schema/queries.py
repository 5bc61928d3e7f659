"""Query root: thin resolvers over resolvers/ use cases."""

import datetime

import strawberry
from graphql import FieldNode

from resolvers.audit.model import AuditAction, AuditOutcome, AuditQuery
from resolvers.directory.organizations import READ_ROLES as ORG_READ_ROLES
from resolvers.mpi.model import Identifier as IdentifierModel
from resolvers.mpi.model import PatientQuery
from resolvers.mpi.patients import READ_ROLES as PATIENT_READ_ROLES
from resolvers.outbox.model import OutboxQuery, OutboxStatus
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import IsAdmin, has_role
from schema.prefetch import read_lab_results_ahead
from schema.types import (
    AuditEvent,
    AuditEventConnection,
    Organization,
    OrganizationConnection,
    OutboxMessage,
    Patient,
    PatientConnection,
    page_info,
)

# The domain enums, exposed as GraphQL enums under their own names.
strawberry.enum(AuditAction, name="AuditAction")
strawberry.enum(AuditOutcome, name="AuditOutcome")
strawberry.enum(OutboxStatus, name="OutboxStatus")

def _selects_organization(info: Info) -> bool:
    """Whether this field's own selection names managingOrganization (fragments are not
    looked into: the organization is then loaded on its own, as before)."""
    for node in info._raw_info.field_nodes:
        selection_set = node.selection_set
        if selection_set is not None and any(
                isinstance(s, FieldNode) and s.name.value == "managingOrganization"
                for s in selection_set.selections):
            return True
    return False


def _first(first: int) -> int:
    return page_size(first)


@strawberry.type
class Query:
    # Single-entity queries answer the nullable entity: null when absent (or deleted),
    # as Apollo clients expect; typed error unions are for mutations. The loader's
    # use case records the read in the audit trail whether or not it finds the patient.
    @strawberry.field(permission_classes=[has_role(*PATIENT_READ_ROLES)])
    async def patient(self, info: Info, id: strawberry.ID) -> Patient | None:
        known = info.context.loaders.organizations
        if not known.wanted and _selects_organization(info):
            known.wanted = True  # read with the patient
        found = await info.context.loaders.patient.load(str(id))
        return Patient.of(found) if found is not None else None

    @strawberry.field(permission_classes=[has_role(*PATIENT_READ_ROLES)])
    async def patients(
        self, info: Info, first: int = 50, after: str | None = None,
        identifier_system: str | None = None, identifier_value: str | None = None,
        family: str | None = None, organization_id: strawberry.ID | None = None,
    ) -> PatientConnection:
        identifier = (IdentifierModel(identifier_system, identifier_value)
                      if identifier_system and identifier_value else None)
        limit = _first(first)
        found = await info.context.services.patients.search(info.context.caller, PatientQuery(
            identifier=identifier, family=family, after=after,
            organization_id=str(organization_id) if organization_id else None, limit=limit))
        for p in found:  # later patient(id:) lookups in the same request hit the cache
            info.context.loaders.patient.prime(p.id, p)
        await read_lab_results_ahead(info, [p.id for p in found])
        return PatientConnection(nodes=[Patient.of(p) for p in found],
                                 page_info=page_info(list(found), limit,
                                                     found[-1].id if found else None))

    @strawberry.field(permission_classes=[has_role(*ORG_READ_ROLES)])
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        found = await info.context.loaders.organization.load(str(id))
        return Organization.of(found) if found is not None else None

    @strawberry.field(permission_classes=[has_role(*ORG_READ_ROLES)])
    async def organizations(self, info: Info, first: int = 50, after: str | None = None,
                            name: str | None = None) -> OrganizationConnection:
        limit = _first(first)
        found = await info.context.services.organizations.search(
            info.context.caller, name=name, after=after, limit=limit)
        return OrganizationConnection(nodes=[Organization.of(o) for o in found],
                                      page_info=page_info(list(found), limit,
                                                          found[-1].id if found else None))

    @strawberry.field(permission_classes=[IsAdmin])
    async def audit_events(
        self, info: Info, first: int = 50, after: str | None = None,
        subject: str | None = None, patient_id: str | None = None,
        resource_type: str | None = None, action: AuditAction | None = None,
        outcome: AuditOutcome | None = None, since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> AuditEventConnection:
        limit = _first(first)
        records = await info.context.services.audit.search(info.context.caller, AuditQuery(
            subject=subject, patient_id=patient_id, resource_type=resource_type,
            action=action, outcome=outcome,
            since=since, until=until, after=after, limit=limit))
        nodes = [AuditEvent(
            id=strawberry.ID(r.id), recorded_at=r.recorded_at, subject=r.subject,
            roles=list(r.roles), action=r.action.value, resource_type=r.resource_type,
            resource_id=r.resource_id, patient_id=r.patient_id, outcome=r.outcome.value,
            request_id=r.request_id, surface=r.surface, purpose=r.purpose) for r in records]
        return AuditEventConnection(nodes=nodes, page_info=page_info(
            list(records), limit, records[-1].id if records else None))

    @strawberry.field(permission_classes=[IsAdmin])
    async def outbox_messages(self, info: Info, status: OutboxStatus | None = None,
                              destination: str | None = None, first: int = 50,
                              after: str | None = None) -> list[OutboxMessage]:
        found = await info.context.services.outbox.search(info.context.caller, OutboxQuery(
            status=status, destination=destination,
            after=after, limit=_first(first)))
        return [OutboxMessage(
            id=strawberry.ID(m.id), destination=m.destination, idempotency_key=m.idempotency_key,
            status=m.status.value, attempts=m.attempts, next_attempt_at=m.next_attempt_at,
            created_at=m.created_at, delivered_at=m.delivered_at, last_error=m.last_error)
            for m in found]
