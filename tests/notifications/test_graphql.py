"""Webhook subscriptions over GraphQL (SQLite and PostgreSQL): the same use cases as REST,
the secret answered once, expected failures as union members, roles per field."""

from __future__ import annotations

from pathlib import Path

from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.support import settled, webhook_app

CREATE = """mutation($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  __typename
  ... on WebhookEndpointSecret { secret endpoint { id url eventTypes enabled } }
  ... on ValidationError { problems { field message } }
  ... on ForbiddenError { message } } }"""


async def test_manage_and_test_an_endpoint_over_graphql(tmp_path: Path,
                                                        database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url) as h:
        made = await h.gql(CREATE, {"input": {"url": receiver.url("g"),
                                              "eventTypes": ["lab.*", "webhook.*"]}},
                           roles=("integrator",))
        created = made["data"]["createWebhookEndpoint"]
        assert created["__typename"] == "WebhookEndpointSecret", made
        endpoint_id, secret = created["endpoint"]["id"], created["secret"]

        listed = await h.gql("{ webhookEndpoints { id eventTypes enabled } "
                             "webhookEventTypes { type version jsonSchema } }",
                             roles=("integrator",))
        assert listed["data"]["webhookEndpoints"] == [
            {"id": endpoint_id, "eventTypes": ["lab.*", "webhook.*"], "enabled": True}]
        types = {t["type"]: t for t in listed["data"]["webhookEventTypes"]}
        assert types["lab.alert.raised"]["jsonSchema"]["title"] == "lab.alert.raised"

        sent = await h.gql("""mutation($id: ID!) { sendWebhookTestEvent(id: $id) {
            __typename ... on WebhookTestEvent { eventId } } }""", {"id": endpoint_id},
                           roles=("integrator",))
        event_id = sent["data"]["sendWebhookTestEvent"]["eventId"]
        await settled(h, endpoint_id, 1)
        hit = receiver.hook("g").ok_hits[0]
        assert hit.headers["webhook-id"] == event_id and hit.verifies_with(secret)
        log = await h.gql("""query($id: ID!) { webhookDeliveries(endpointId: $id) {
            eventType status attempts lastStatusCode } }""", {"id": endpoint_id},
                          roles=("integrator",))
        assert log["data"]["webhookDeliveries"] == [{"eventType": "webhook.test",
                                                     "status": "SUCCEEDED", "attempts": 1,
                                                     "lastStatusCode": 200}]

        rotated = await h.gql("""mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) {
            __typename ... on WebhookEndpointSecret { secret } } }""", {"id": endpoint_id},
                              roles=("admin",))
        assert rotated["data"]["rotateWebhookEndpointSecret"]["secret"] not in (secret, None)

        updated = await h.gql("""mutation($id: ID!) { updateWebhookEndpoint(id: $id,
            input: {eventTypes: ["nonsense"]}) { __typename
            ... on ValidationError { problems { field } } } }""", {"id": endpoint_id},
                              roles=("integrator",))
        assert updated["data"]["updateWebhookEndpoint"] == {
            "__typename": "ValidationError", "problems": [{"field": "event_types"}]}
        off = await h.gql("""mutation($id: ID!) { setWebhookEndpointEnabled(id: $id,
            enabled: false) { __typename ... on WebhookEndpoint { enabled } } }""",
                          {"id": endpoint_id}, roles=("integrator",))
        assert off["data"]["setWebhookEndpointEnabled"]["enabled"] is False
        replay = await h.gql("""mutation($id: ID!) { replayWebhookDeliveriesSince(
            endpointId: $id, since: "2026-01-01T00:00:00+00:00") { __typename
            ... on WebhookReplayCount { replayed } } }""", {"id": endpoint_id},
                             roles=("integrator",))
        assert replay["data"]["replayWebhookDeliveriesSince"] == {
            "__typename": "WebhookReplayCount", "replayed": 0}  # it succeeded: nothing to do

        refused = await h.gql(CREATE, {"input": {"url": receiver.url("x"),
                                                 "eventTypes": ["*"]}}, roles=("clinician",))
        assert refused["data"]["createWebhookEndpoint"]["__typename"] == "ForbiddenError"
        hidden = await h.gql("{ webhookEndpoints { id } }", roles=("clinician",))
        assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"

        deleted = await h.gql("""mutation($id: ID!) { deleteWebhookEndpoint(id: $id) {
            __typename } }""", {"id": endpoint_id}, roles=("integrator",))
        assert deleted["data"]["deleteWebhookEndpoint"]["__typename"] == "WebhookEndpointDeleted"
        gone = await h.gql("""query($id: ID!) { webhookEndpoint(id: $id) { id } }""",
                           {"id": endpoint_id}, roles=("integrator",))
        assert gone["data"]["webhookEndpoint"] is None
        again = await h.gql("""mutation($id: ID!) { deleteWebhookEndpoint(id: $id) {
            __typename } }""", {"id": endpoint_id}, roles=("integrator",))
        assert again["data"]["deleteWebhookEndpoint"]["__typename"] == "NotFoundError"
