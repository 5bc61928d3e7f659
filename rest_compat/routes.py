"""Every REST route family, in one list: the router and the OpenAPI document use it."""

from __future__ import annotations

from rest_compat import (
    admin,
    cds_hooks,
    crossborder,
    fhir,
    health,
    imaging,
    labs,
    mpi_review,
    notifications,
    openapi,
    organizations,
    outbox_destinations,
    patients,
    payment_webhooks,
    payments,
    public_health,
    public_health_feeds,
    smart,
    stripe_subscriptions,
    surveillance,
    webhook_endpoints,
    webhooks,
    whatsapp_webhook,
)
from rest_compat.spec import Operation

OPERATIONS: list[Operation] = [
    *health.operations,
    *openapi.operations,
    *patients.operations,
    *organizations.operations,
    *admin.operations,
    *outbox_destinations.operations,
    *smart.operations,  # before /api/fhir/{type}/{id}
    *crossborder.operations,  # before the /api/fhir/{type}/... patterns
    *fhir.operations,
    *labs.operations,
    *mpi_review.operations,
    *webhook_endpoints.operations,
    *webhooks.operations,
    *whatsapp_webhook.operations,
    *notifications.operations,
    *stripe_subscriptions.operations,  # before /api/payments/{payment_id}
    *payments.operations,
    *payment_webhooks.operations,
    *public_health.operations,
    *public_health_feeds.operations,
    *surveillance.operations,
    *cds_hooks.operations,
    *imaging.operations,
]
