"""Outbound webhook subscriptions over GraphQL (admin or integrator): the same use cases as
/api/webhooks/endpoints (resolvers/notifications); expected failures as union members."""

import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from resolvers.errors import DomainError, InvalidInput
from resolvers.notifications.catalogue import catalogue
from resolvers.notifications.model import Delivery, DeliveryQuery, DeliveryStatus, Endpoint
from resolvers.notifications.model import EndpointChanges as Changes
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

_MANAGERS = [has_role(Role.INTEGRATOR)]
strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.type(name="WebhookEndpoint")
class WebhookEndpointType:
    id: strawberry.ID
    url: str
    event_types: list[str]
    resource_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime.datetime | None
    previous_secret_expires_at: datetime.datetime | None
    created_by: str
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, e: Endpoint) -> "WebhookEndpointType":
        return cls(id=strawberry.ID(e.id), url=e.url, event_types=list(e.event_types),
                   resource_types=list(e.resource_types), description=e.description,
                   enabled=e.enabled, disabled_reason=e.disabled_reason,
                   failing_since=e.failing_since,
                   previous_secret_expires_at=e.previous_secret.expires_at
                   if e.previous_secret else None,
                   created_by=e.created_by, created_at=e.created_at, updated_at=e.updated_at)


@strawberry.type
class WebhookEndpointSecret:
    endpoint: WebhookEndpointType
    secret: str = strawberry.field(description="whsec_...: shown this once")


@strawberry.type(name="WebhookDelivery")
class WebhookDeliveryType:
    id: strawberry.ID
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, d: Delivery) -> "WebhookDeliveryType":
        return cls(id=strawberry.ID(d.id), endpoint_id=d.endpoint_id, event_id=d.event_id,
                   event_type=d.event_type, status=d.status, attempts=d.attempts,
                   last_status_code=d.last_status_code, last_error=d.last_error,
                   created_at=d.created_at, updated_at=d.updated_at)


@strawberry.type
class WebhookEventTypeInfo:
    type: str
    version: int
    description: str
    filterable_by_resource_type: bool
    json_schema: JSON


@strawberry.type
class WebhookTestEvent:
    event_id: str


@strawberry.type
class WebhookEndpointDeleted:
    id: strawberry.ID


@strawberry.type
class WebhookReplayCount:
    replayed: int


@strawberry.input
class WebhookEndpointInput:
    url: str
    event_types: list[str]
    resource_types: list[str] = strawberry.field(default_factory=list)
    description: str = ""


@strawberry.input
class WebhookEndpointChanges:
    url: str | None = None
    event_types: list[str] | None = None
    resource_types: list[str] | None = None
    description: str | None = None


CreateWebhookEndpointResult = Annotated[
    WebhookEndpointSecret | ValidationError | ForbiddenError,
    strawberry.union("CreateWebhookEndpointResult")]
WebhookEndpointResult = Annotated[
    WebhookEndpointType | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("WebhookEndpointResult")]
RotateWebhookSecretResult = Annotated[
    WebhookEndpointSecret | NotFoundError | ForbiddenError,
    strawberry.union("RotateWebhookSecretResult")]
DeleteWebhookEndpointResult = Annotated[
    WebhookEndpointDeleted | NotFoundError | ForbiddenError,
    strawberry.union("DeleteWebhookEndpointResult")]
SendWebhookTestResult = Annotated[
    WebhookTestEvent | NotFoundError | ForbiddenError,
    strawberry.union("SendWebhookTestResult")]
ReplayWebhookDeliveryResult = Annotated[
    WebhookDeliveryType | NotFoundError | ConflictError | ForbiddenError,
    strawberry.union("ReplayWebhookDeliveryResult")]
ReplayWebhookDeliveriesResult = Annotated[
    WebhookReplayCount | NotFoundError | ForbiddenError,
    strawberry.union("ReplayWebhookDeliveriesResult")]


@strawberry.type
class WebhookEndpointQuery:
    @strawberry.field(permission_classes=_MANAGERS,
                      description="Webhook endpoints, oldest first (admin, integrator)")
    async def webhook_endpoints(self, info: Info, after: str | None = None,
                                limit: int = 50) -> list[WebhookEndpointType]:
        found = await info.context.services.notifications.endpoints.list(
            info.context.caller, after, limit)
        return [WebhookEndpointType.of(e) for e in found]

    @strawberry.field(permission_classes=_MANAGERS, description="One webhook endpoint")
    async def webhook_endpoint(self, info: Info,
                               id: strawberry.ID) -> WebhookEndpointType | None:
        try:
            found = await info.context.services.notifications.endpoints.get(
                info.context.caller, str(id))
        except DomainError as exc:
            if exc.code == "not_found":
                return None
            raise
        return WebhookEndpointType.of(found)

    @strawberry.field(permission_classes=_MANAGERS,
                      description="An endpoint's delivery log, newest first")
    async def webhook_deliveries(self, info: Info, endpoint_id: strawberry.ID,
                                 status: DeliveryStatus | None = None,
                                 event_type: str | None = None, after: str | None = None,
                                 limit: int = 50) -> list[WebhookDeliveryType]:
        found = await info.context.services.notifications.deliveries.deliveries(
            info.context.caller, DeliveryQuery(str(endpoint_id), status, event_type, after,
                                               limit))
        return [WebhookDeliveryType.of(d) for d in found]

    @strawberry.field(description="The webhook event catalogue with each type's JSON Schema")
    def webhook_event_types(self) -> list[WebhookEventTypeInfo]:
        return [WebhookEventTypeInfo(type=t.name, version=t.version, description=t.description,
                                     filterable_by_resource_type=t.filterable_by_resource_type,
                                     json_schema=cast(JSON, t.schema()))
                for t in catalogue().values()]


@strawberry.type
class WebhookEndpointMutation:
    @strawberry.mutation(description="Subscribe an endpoint; its secret is answered once")
    async def create_webhook_endpoint(self, info: Info, input: WebhookEndpointInput,
                                      ) -> CreateWebhookEndpointResult:
        try:
            made = await info.context.services.notifications.endpoints.create(
                info.context.caller, url=input.url, event_types=input.event_types[:50],
                resource_types=input.resource_types[:50], description=input.description[:500])
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookEndpointSecret(endpoint=WebhookEndpointType.of(made.endpoint),
                                     secret=made.secret)

    @strawberry.mutation(description="Change an endpoint's URL, filters or description")
    async def update_webhook_endpoint(self, info: Info, id: strawberry.ID,
                                      input: WebhookEndpointChanges) -> WebhookEndpointResult:
        changes = Changes(
            url=input.url, description=input.description[:500] if input.description else
            input.description,
            event_types=tuple(input.event_types[:50]) if input.event_types is not None
            else None,
            resource_types=tuple(input.resource_types[:50])
            if input.resource_types is not None else None)
        try:
            found = await info.context.services.notifications.endpoints.update(
                info.context.caller, str(id), changes)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookEndpointType.of(found)

    @strawberry.mutation(description="Enable or disable an endpoint")
    async def set_webhook_endpoint_enabled(self, info: Info, id: strawberry.ID,
                                           enabled: bool) -> WebhookEndpointResult:
        try:
            found = await info.context.services.notifications.endpoints.set_enabled(
                info.context.caller, str(id), enabled)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookEndpointType.of(found)

    @strawberry.mutation(description="Delete an endpoint and its delivery log")
    async def delete_webhook_endpoint(self, info: Info,
                                      id: strawberry.ID) -> DeleteWebhookEndpointResult:
        try:
            await info.context.services.notifications.endpoints.delete(info.context.caller,
                                                                       str(id))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookEndpointDeleted(id=id)

    @strawberry.mutation(description="A new secret (answered once); the old one still signs "
                                     "during the grace period")
    async def rotate_webhook_endpoint_secret(self, info: Info, id: strawberry.ID,
                                             ) -> RotateWebhookSecretResult:
        try:
            rotated = await info.context.services.notifications.endpoints.rotate_secret(
                info.context.caller, str(id))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookEndpointSecret(endpoint=WebhookEndpointType.of(rotated.endpoint),
                                     secret=rotated.secret)

    @strawberry.mutation(description="Queue a webhook.test event to this endpoint only")
    async def send_webhook_test_event(self, info: Info,
                                      id: strawberry.ID) -> SendWebhookTestResult:
        try:
            event_id = await info.context.services.notifications.endpoints.send_test(
                info.context.caller, str(id))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookTestEvent(event_id=event_id)

    @strawberry.mutation(description="Send one delivery again (same webhook-id)")
    async def replay_webhook_delivery(self, info: Info, endpoint_id: strawberry.ID,
                                      delivery_id: strawberry.ID,
                                      ) -> ReplayWebhookDeliveryResult:
        try:
            found = await info.context.services.notifications.deliveries.replay(
                info.context.caller, str(endpoint_id), str(delivery_id))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookDeliveryType.of(found)

    @strawberry.mutation(description="Send again every delivery since a time that did not "
                                     "succeed")
    async def replay_webhook_deliveries_since(self, info: Info, endpoint_id: strawberry.ID,
                                              since: datetime.datetime,
                                              ) -> ReplayWebhookDeliveriesResult:
        try:
            if since.tzinfo is None:
                raise InvalidInput("since needs a time zone offset (RFC 3339)", details=[
                    {"field": "since", "message": "no time zone offset"}])
            count = await info.context.services.notifications.deliveries.replay_since(
                info.context.caller, str(endpoint_id), since)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookReplayCount(replayed=count)
