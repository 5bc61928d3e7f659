"""The webhook inbox over GraphQL: webhookEvents (admin) and replayWebhookEvent."""

import datetime
from typing import Annotated

import strawberry

from resolvers.errors import DomainError
from resolvers.webhooks.model import EventStatus, WebhookEventQuery
from resolvers.webhooks.model import WebhookEvent as WebhookEventRecord
from schema.errors import ForbiddenError, NotFoundError, to_user_error
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import IsAdmin
from schema.types import PageInfo, page_info

strawberry.enum(EventStatus, name="WebhookEventStatus")


@strawberry.type
class WebhookEvent:
    """A verified inbound provider event and what became of it."""

    id: strawberry.ID
    provider: str
    event_id: str = strawberry.field(description="The provider's event id (dedupe key)")
    event_type: str
    subject_id: str | None
    status: EventStatus
    attempts: int
    last_error: str | None
    received_at: datetime.datetime
    processed_at: datetime.datetime | None

    @classmethod
    def of(cls, e: WebhookEventRecord) -> "WebhookEvent":
        return cls(id=strawberry.ID(e.id), provider=e.provider, event_id=e.event_id,
                   event_type=e.event_type, subject_id=e.subject_id,
                   status=EventStatus(e.status), attempts=e.attempts, last_error=e.last_error,
                   received_at=e.received_at, processed_at=e.processed_at)


@strawberry.type
class WebhookEventConnection:
    nodes: list[WebhookEvent]
    page_info: PageInfo


ReplayWebhookEventResult = Annotated[
    WebhookEvent | NotFoundError | ForbiddenError,
    strawberry.union("ReplayWebhookEventResult"),
]


@strawberry.type
class WebhookQuery:
    @strawberry.field(permission_classes=[IsAdmin],
                      description="Received webhook events, newest first")
    async def webhook_events(self, info: Info, provider: str | None = None,
                             status: EventStatus | None = None, first: int = 50,
                             after: str | None = None) -> WebhookEventConnection:
        limit = page_size(first)
        found = await info.context.services.webhooks.admin.search(
            info.context.caller, WebhookEventQuery(provider=provider, status=status, after=after,
                                                   limit=limit))
        return WebhookEventConnection(
            nodes=[WebhookEvent.of(e) for e in found],
            page_info=page_info(list(found), limit, found[-1].id if found else None))


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(permission_classes=[IsAdmin],
                         description="Process a received webhook event again")
    async def replay_webhook_event(self, info: Info, id: strawberry.ID) -> ReplayWebhookEventResult:
        try:
            event = await info.context.services.webhooks.admin.replay(info.context.caller, str(id))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return WebhookEvent.of(event)
