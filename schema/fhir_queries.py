"""FHIR queries (by id, and search with cursor pagination) and create/update mutations."""

import base64
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from resolvers.errors import DomainError
from resolvers.fhir.errors import FhirProblem
from resolvers.fhir.search import parse_search
from resolvers.principal import Role
from schema.errors import ConflictError, ForbiddenError, NotFoundError, to_user_error
from schema.fhir_datatypes import OutcomeIssue
from schema.fhir_types import (
    AllergyIntolerance,
    Appointment,
    AppointmentResponse,
    Condition,
    DiagnosticReport,
    Encounter,
    Immunization,
    MedicationRequest,
    Observation,
    Practitioner,
    Procedure,
    to_graphql,
)
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import has_role
from schema.types import PageInfo

T = TypeVar("T")
FHIR_ROLES = has_role(Role.CLINICIAN, Role.INTEGRATOR)


@strawberry.type
class FhirConnection(Generic[T]):
    nodes: list[T]
    page_info: PageInfo
    total: int


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except ValueError:
        pass
    raise FhirProblem(400, [])


async def _by_id(info: Info, resource_type: str, id: strawberry.ID) -> Any:
    found = await info.context.loaders.fhir.load((resource_type, str(id)))
    return to_graphql(found) if found else None


async def _search(info: Info, resource_type: str, first: int, after: str | None,
                  *extra: tuple[str, str | None], **filters: str | None) -> Any:
    pairs = [(k, v) for k, v in (*filters.items(), *extra) if v]
    offset = _offset(after)
    count = page_size(first)
    request = parse_search(resource_type, [*pairs, ("_count", str(count)),
                                           ("_offset", str(offset)), ("_sort", "-date")
                                           if resource_type != "Practitioner" else ("_sort", "_id")])
    page = await info.context.services.fhir.search(info.context.caller, request)
    for r in page.resources:
        info.context.loaders.fhir.prime((r.resource_type, r.id), r)
    more = offset + count < page.total
    return FhirConnection(nodes=[to_graphql(r) for r in page.resources], total=page.total,
                          page_info=PageInfo(has_next_page=more,
                                             end_cursor=_cursor(offset + count) if more else None))


def _date(prefix: str, value: str | None) -> str | None:
    return f"{prefix}{value}" if value else None


@strawberry.type
class FhirQuery:
    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def observation(self, info: Info, id: strawberry.ID) -> Observation | None:
        return await _by_id(info, "Observation", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def observations(self, info: Info, patient_id: str | None = None,
                           code: str | None = None, status: str | None = None,
                           date_from: str | None = None, date_to: str | None = None,
                           first: int = 50, after: str | None = None,
                           ) -> FhirConnection[Observation]:
        return await _search(  # type: ignore[no-any-return]
            info, "Observation", first, after, ("date", _date("ge", date_from)),
            ("date", _date("le", date_to)), patient=patient_id, code=code, status=status)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def diagnostic_report(self, info: Info,
                                id: strawberry.ID) -> DiagnosticReport | None:
        return await _by_id(info, "DiagnosticReport", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def diagnostic_reports(self, info: Info, patient_id: str | None = None,
                                 code: str | None = None, status: str | None = None,
                                 first: int = 50, after: str | None = None,
                                 ) -> FhirConnection[DiagnosticReport]:
        return await _search(info, "DiagnosticReport", first, after,  # type: ignore[no-any-return]
                             patient=patient_id, code=code, status=status)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def encounter(self, info: Info, id: strawberry.ID) -> Encounter | None:
        return await _by_id(info, "Encounter", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def encounters(self, info: Info, patient_id: str | None = None,
                         status: str | None = None, first: int = 50,
                         after: str | None = None) -> FhirConnection[Encounter]:
        return await _search(info, "Encounter", first, after, patient=patient_id,  # type: ignore[no-any-return]
                             status=status)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def medication_request(self, info: Info,
                                 id: strawberry.ID) -> MedicationRequest | None:
        return await _by_id(info, "MedicationRequest", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def medication_requests(self, info: Info, patient_id: str | None = None,
                                  status: str | None = None, first: int = 50,
                                  after: str | None = None,
                                  ) -> FhirConnection[MedicationRequest]:
        return await _search(info, "MedicationRequest", first, after,  # type: ignore[no-any-return]
                             patient=patient_id, status=status)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def condition(self, info: Info, id: strawberry.ID) -> Condition | None:
        return await _by_id(info, "Condition", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def conditions(self, info: Info, patient_id: str | None = None,
                         code: str | None = None, first: int = 50,
                         after: str | None = None) -> FhirConnection[Condition]:
        return await _search(info, "Condition", first, after, patient=patient_id,  # type: ignore[no-any-return]
                             code=code)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def allergy_intolerance(self, info: Info,
                                  id: strawberry.ID) -> AllergyIntolerance | None:
        return await _by_id(info, "AllergyIntolerance", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def allergy_intolerances(self, info: Info, patient_id: str | None = None,
                                   first: int = 50, after: str | None = None,
                                   ) -> FhirConnection[AllergyIntolerance]:
        return await _search(info, "AllergyIntolerance", first, after,  # type: ignore[no-any-return]
                             patient=patient_id)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def procedure(self, info: Info, id: strawberry.ID) -> Procedure | None:
        return await _by_id(info, "Procedure", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def procedures(self, info: Info, patient_id: str | None = None, first: int = 50,
                         after: str | None = None) -> FhirConnection[Procedure]:
        return await _search(info, "Procedure", first, after, patient=patient_id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def immunization(self, info: Info, id: strawberry.ID) -> Immunization | None:
        return await _by_id(info, "Immunization", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def immunizations(self, info: Info, patient_id: str | None = None, first: int = 50,
                            after: str | None = None) -> FhirConnection[Immunization]:
        return await _search(info, "Immunization", first, after, patient=patient_id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def appointment(self, info: Info, id: strawberry.ID) -> Appointment | None:
        return await _by_id(info, "Appointment", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def appointments(self, info: Info, patient_id: str | None = None,
                           status: str | None = None, date_from: str | None = None,
                           date_to: str | None = None, first: int = 50,
                           after: str | None = None) -> FhirConnection[Appointment]:
        return await _search(  # type: ignore[no-any-return]
            info, "Appointment", first, after, ("date", _date("ge", date_from)),
            ("date", _date("le", date_to)), patient=patient_id, status=status)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def appointment_response(self, info: Info,
                                   id: strawberry.ID) -> AppointmentResponse | None:
        return await _by_id(info, "AppointmentResponse", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def appointment_responses(self, info: Info, appointment_id: str | None = None,
                                    patient_id: str | None = None, first: int = 50,
                                    after: str | None = None,
                                    ) -> FhirConnection[AppointmentResponse]:
        return await _search(  # type: ignore[no-any-return]
            info, "AppointmentResponse", first, after,
            ("appointment", f"Appointment/{appointment_id}" if appointment_id else None),
            patient=patient_id)

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def practitioner(self, info: Info, id: strawberry.ID) -> Practitioner | None:
        return await _by_id(info, "Practitioner", id)  # type: ignore[no-any-return]

    @strawberry.field(permission_classes=[FHIR_ROLES])
    async def practitioners(self, info: Info, name: str | None = None, first: int = 50,
                            after: str | None = None) -> FhirConnection[Practitioner]:
        return await _search(info, "Practitioner", first, after, name=name)  # type: ignore[no-any-return]


@strawberry.type
class FhirValidationError:
    message: str
    code: str
    issues: list[OutcomeIssue]


FhirWriteResult = Annotated[
    Observation | DiagnosticReport | Encounter | MedicationRequest | Condition
    | AllergyIntolerance | Procedure | Immunization | Practitioner | Appointment
    | AppointmentResponse | FhirValidationError
    | NotFoundError | ConflictError | ForbiddenError,
    strawberry.union("FhirWriteResult"),
]


def _problem_result(exc: FhirProblem) -> Any:
    if exc.status == 404:
        return NotFoundError(message=exc.message, code="not_found")
    if exc.status in (409, 412):
        return ConflictError(message=exc.message, code="conflict")
    return FhirValidationError(message=exc.message, code="invalid", issues=[
        OutcomeIssue(severity=i.severity, code=i.code, diagnostics=i.diagnostics,
                     expression=i.expression) for i in exc.issues])


@strawberry.type
class FhirMutation:
    @strawberry.mutation(permission_classes=[FHIR_ROLES],
                         description="Create a FHIR resource (validated like POST /api/fhir)")
    async def create_fhir_resource(self, info: Info, resource: JSON) -> FhirWriteResult:
        ctx = info.context
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        if resource_type == "Patient" or resource_type == "Organization":
            return FhirValidationError(message="use createPatient / createOrganization",
                                       code="not-supported", issues=[])
        try:
            result = await ctx.services.fhir.create(ctx.caller, str(resource_type), resource)
            return to_graphql(result.resource)  # type: ignore[no-any-return]
        except FhirProblem as exc:
            return _problem_result(exc)  # type: ignore[no-any-return]
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[FHIR_ROLES],
                         description="Update a FHIR resource (If-Match with expectedVersion)")
    async def update_fhir_resource(self, info: Info, id: strawberry.ID, resource: JSON,
                                   expected_version: int | None = None) -> FhirWriteResult:
        ctx = info.context
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        try:
            result = await ctx.services.fhir.update(ctx.caller, str(resource_type), str(id),
                                                    resource, if_match=expected_version)
            return to_graphql(result.resource)  # type: ignore[no-any-return]
        except FhirProblem as exc:
            return _problem_result(exc)  # type: ignore[no-any-return]
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]


__all__ = ["FhirMutation", "FhirQuery", "FhirValidationError"]
