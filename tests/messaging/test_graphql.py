"""GraphQL parity: the same use cases as /api/notifications, the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.messaging.conftest import World

SEND = """mutation($input: SendNotificationInput!) { sendNotification(input: $input) {
  __typename ... on Notification { id status template }
  ... on UserError { message code } } }"""


async def test_send_list_cancel_and_consent_over_graphql(world: World) -> None:
    await world.register("appointment_reminder", "en", "Hello {{1}} at {{2}}")
    patient = (await world.gateway.create_patient(phone="+254711000111"))["id"]
    consent = await world.gateway.gql(
        f'mutation {{ setMessagingConsent(patientId: "{patient}", optedIn: true) {{ '
        '__typename ... on MessagingConsent { state phone } } }', roles=("clinician",))
    assert consent["data"]["setMessagingConsent"] == {
        "__typename": "MessagingConsent", "state": "opted_in", "phone": "+254711000111"}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sent = await world.gateway.gql(SEND, {"input": {
        "patientId": patient, "template": "appointment_reminder", "language": "en",
        "params": ["Amina", "10:30"], "sendAt": later}}, roles=("clinician",))
    made = sent["data"]["sendNotification"]
    assert (made["__typename"], made["status"]) == ("Notification", "scheduled")
    rest = await world.message(made["id"])  # one view, both surfaces
    assert rest["status"] == made["status"] and rest["template"] == made["template"]
    wrong = await world.gateway.gql(SEND, {"input": {
        "patientId": patient, "template": "appointment_reminder", "language": "en",
        "params": ["Amina"]}}, roles=("clinician",))
    assert wrong["data"]["sendNotification"]["__typename"] == "ValidationError"
    listed = await world.gateway.gql(
        f'{{ notifications(patientId: "{patient}") {{ nodes {{ id status }} }} }}',
        roles=("clinician",))
    assert listed["data"]["notifications"]["nodes"] == [{"id": made["id"],
                                                         "status": "scheduled"}]
    cancelled = await world.gateway.gql(
        f'mutation {{ cancelNotification(id: "{made["id"]}") {{ __typename '
        '... on Notification { status } } }', roles=("clinician",))
    assert cancelled["data"]["cancelNotification"]["status"] == "cancelled"
    refused = await world.gateway.gql('{ notificationTemplates { name } }', roles=("billing",))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    templates = await world.gateway.gql('{ notificationTemplates { name status bodyParams } }',
                                        roles=("integrator",))
    assert templates["data"]["notificationTemplates"] == [
        {"name": "appointment_reminder", "status": "APPROVED", "bodyParams": 2}]
