"""``subscription { labAlertRaised(facilityId:) }``: critical-value alerts, live.

Over ``graphql-transport-ws`` only (schema/ws_auth.py authenticates the connection). Each
event is a raise or an escalation of an alert (``escalationLevel``), with the fields of
``LabAlert`` that carry no value: ids, the test code, the direction; ``facilityId`` is the
sending facility (MSH-4) the alert was routed by. Roles are checked again for each event
and each delivered event is audited (resolvers/labs/alerting/subscription.py).
"""

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime

import strawberry

from resolvers.errors import Unauthenticated
from resolvers.labs.alerting.model import RaisedAlert
from schema.graphql_context import Info
from schema.ws_auth import SocketContext


@strawberry.type(description="A critical-value alert raised or escalated (no result value)")
class LabAlertRaised:
    id: strawberry.ID
    facility_id: str
    lab_result_id: strawberry.ID
    patient_id: strawberry.ID | None
    code: str
    direction: str | None
    created_at: datetime
    escalation_level: int

    @classmethod
    def of(cls, a: RaisedAlert) -> "LabAlertRaised":
        return cls(id=strawberry.ID(a.alert_id), facility_id=a.facility,
                   lab_result_id=strawberry.ID(a.lab_result_id),
                   patient_id=strawberry.ID(a.patient_id) if a.patient_id else None,
                   code=a.code, direction=a.direction, created_at=a.created_at,
                   escalation_level=a.escalation_level)


@strawberry.type
class LabSubscription:
    @strawberry.subscription(description="Critical lab alerts as they are raised and "
                                         "escalated; of one sending facility when given")
    async def lab_alert_raised(self, info: Info, facility_id: strawberry.ID | None = None,
                               ) -> AsyncGenerator[LabAlertRaised, None]:
        # A coroutine that returns the stream (not a generator itself): a refusal is raised
        # when the subscription starts, before any event is awaited.
        ctx = info.context
        if not isinstance(ctx, SocketContext) or not ctx.token:
            raise Unauthenticated("subscriptions run over WebSocket (graphql-transport-ws), "
                                  "with the token in the connection_init payload")
        stream = ctx.services.lab_alert_subscriptions.stream(
            ctx.caller, ctx.token, str(facility_id) if facility_id is not None else None)
        return _events(stream)


async def _events(stream: AsyncIterator[RaisedAlert]) -> AsyncGenerator[LabAlertRaised, None]:
    async for alert in stream:
        yield LabAlertRaised.of(alert)
