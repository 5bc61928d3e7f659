"""WhatsApp patient messaging over GraphQL: the same use cases as /api/notifications and
/api/patients/{id}/messaging-consent, audited the same way. Roles clinician or integrator
(and admin)."""

import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolvers.errors import DomainError
from resolvers.messaging.model import (
    ConsentState,
    MessageQuery,
    MessageStatus,
    Purpose,
    StoredMessage,
    Template,
    placeholders,
)
from resolvers.messaging.service import ConsentView, SendRequest
from resolvers.principal import Role
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    to_user_error,
)
from schema.graphql_context import Info
from schema.permissions import has_role

IsSender = has_role(Role.CLINICIAN, Role.INTEGRATOR)


@strawberry.type
class Notification:
    id: str
    key: str
    purpose: str
    kind: str = strawberry.field(description="template or text")
    patient_id: str | None
    template: str | None
    language: str | None
    status: str = strawberry.field(description="scheduled, sending, sent, delivered, read, "
                                   "failed, cancelled or suppressed")
    reason: str | None
    error_code: int | None
    send_at: datetime.datetime
    attempts: int
    wamid: str | None
    created_at: datetime.datetime

    @classmethod
    def of(cls, m: StoredMessage) -> "Notification":
        return cls(id=m.id, key=m.key, purpose=m.purpose.value, kind=m.kind.value,
                   patient_id=m.patient_id, template=m.template.name if m.template else None,
                   language=m.template.language if m.template else None,
                   status=m.status.value, reason=m.reason, error_code=m.error_code,
                   send_at=m.send_at, attempts=m.attempts, wamid=m.wamid,
                   created_at=m.created_at)


@strawberry.type
class NotificationPage:
    nodes: list[Notification]
    next_cursor: str | None


@strawberry.type
class NotificationTemplate:
    name: str
    language: str
    status: str
    category: str
    body: str
    header: str | None
    buttons: list[str]
    body_params: int

    @classmethod
    def of(cls, t: Template) -> "NotificationTemplate":
        return cls(name=t.name, language=t.language, status=t.status.value,
                   category=t.category, body=t.body, header=t.header, buttons=list(t.buttons),
                   body_params=placeholders(t.body))


@strawberry.type
class MessagingConsentEvent:
    state: str
    source: str
    actor: str
    at: datetime.datetime


@strawberry.type
class MessagingConsent:
    patient_id: str
    phone: str
    state: str | None = strawberry.field(description="opted_in, opted_out or null")
    history: list[MessagingConsentEvent]

    @classmethod
    def of(cls, v: ConsentView) -> "MessagingConsent":
        return cls(patient_id=v.patient_id, phone=v.phone,
                   state=v.state.value if v.state else None,
                   history=[MessagingConsentEvent(state=e.state.value, source=e.source,
                                                  actor=e.actor, at=e.at) for e in v.history])


@strawberry.input
class SendNotificationInput:
    patient_id: str | None = None
    phone: str | None = None
    country: str | None = None
    template: str | None = None
    language: str | None = None
    params: list[str] = strawberry.field(default_factory=list)
    button_payloads: list[str] = strawberry.field(default_factory=list)
    text: str | None = None
    send_at: datetime.datetime | None = None
    key: str | None = None


SendNotificationResult = Annotated[
    Notification | ValidationError | NotFoundError | ConflictError | ForbiddenError,
    strawberry.union("SendNotificationResult")]
MessagingConsentResult = Annotated[
    MessagingConsent | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("MessagingConsentResult")]


@strawberry.type
class MessagingQuery:
    @strawberry.field(permission_classes=[IsSender], description="WhatsApp messages, newest "
                      "first (as GET /api/notifications)")
    async def notifications(self, info: Info, patient_id: str | None = None,
                            status: str | None = None, purpose: str | None = None,
                            cursor: str | None = None, limit: int = 50) -> NotificationPage:
        try:
            query = MessageQuery(patient_id=patient_id,
                                 status=MessageStatus(status) if status else None,
                                 purpose=Purpose(purpose) if purpose else None, after=cursor,
                                 limit=max(1, min(limit, 200)))
        except ValueError:
            raise GraphQLError("unknown status or purpose",
                               extensions={"code": "BAD_USER_INPUT"}) from None
        found = await info.context.services.messaging.use_cases.search(info.context.caller,
                                                                       query)
        next_cursor = found[-1].id if len(found) == query.limit else None
        return NotificationPage(nodes=[Notification.of(m) for m in found],
                                next_cursor=next_cursor)

    @strawberry.field(permission_classes=[IsSender], description="One WhatsApp message; null "
                      "when there is none")
    async def notification(self, info: Info, id: str) -> Notification | None:
        try:
            found = await info.context.services.messaging.use_cases.get(info.context.caller, id)
        except DomainError as exc:
            if exc.code == "not_found":
                return None
            raise
        return Notification.of(found)

    @strawberry.field(permission_classes=[IsSender], description="The patient's WhatsApp "
                      "consent on a phone (their recorded one by default), with its history; "
                      "null when the patient does not exist or has no usable phone")
    async def messaging_consent(self, info: Info, patient_id: str,
                                phone: str | None = None) -> MessagingConsent | None:
        try:
            view = await info.context.services.messaging.use_cases.consent(
                info.context.caller, patient_id, phone)
        except DomainError as exc:
            if exc.code in ("not_found", "validation_error"):
                return None
            raise
        return MessagingConsent.of(view)

    @strawberry.field(permission_classes=[IsSender], description="Message templates per "
                      "language with their approval status")
    async def notification_templates(self, info: Info) -> list[NotificationTemplate]:
        found = await info.context.services.messaging.use_cases.templates(info.context.caller)
        return [NotificationTemplate.of(t) for t in found]


@strawberry.type
class MessagingMutation:
    @strawberry.mutation(description="Send or schedule a WhatsApp message (as POST "
                         "/api/notifications)")
    async def send_notification(self, info: Info,
                                input: SendNotificationInput) -> SendNotificationResult:
        try:
            stored, _new = await info.context.services.messaging.use_cases.send(
                info.context.caller, SendRequest(
                    patient_id=input.patient_id, phone=input.phone, country=input.country,
                    template=input.template, language=input.language,
                    params=tuple(input.params), button_payloads=tuple(input.button_payloads),
                    text=input.text, send_at=input.send_at, key=input.key))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return Notification.of(stored)

    @strawberry.mutation(description="Cancel a scheduled WhatsApp message")
    async def cancel_notification(self, info: Info, id: str) -> SendNotificationResult:
        try:
            cancelled = await info.context.services.messaging.use_cases.cancel(
                info.context.caller, id)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return Notification.of(cancelled)

    @strawberry.mutation(description="Record a patient's WhatsApp opt-in or opt-out")
    async def set_messaging_consent(self, info: Info, patient_id: str, opted_in: bool,
                                    phone: str | None = None) -> MessagingConsentResult:
        state = ConsentState.OPTED_IN if opted_in else ConsentState.OPTED_OUT
        try:
            view = await info.context.services.messaging.use_cases.set_consent(
                info.context.caller, patient_id, state, phone)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return MessagingConsent.of(view)
