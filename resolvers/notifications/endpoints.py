"""Managing webhook endpoints (admin or integrator): create, list, read, change, enable,
disable, delete, rotate the secret, send a test event; every call is audited.

The secret is answered once, on create (and a new one on rotation); reads never carry it.
Endpoint URLs pass the outbound guard here and again on every delivery.
"""

from __future__ import annotations

from dataclasses import replace

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import InvalidInput, NotFound
from resolvers.ids import new_id
from resolvers.notifications.catalogue import check_filters
from resolvers.notifications.events import webhook_event
from resolvers.notifications.model import (
    CreatedEndpoint,
    Endpoint,
    EndpointChanges,
    EndpointSecret,
    RotatedSecret,
)
from resolvers.notifications.policy import DeliveryPolicy
from resolvers.notifications.ports import (
    EndpointUrlGuard,
    EventEnqueuer,
    WebhookSigner,
    WebhookStore,
)
from resolvers.principal import Caller, Role, require_role

RESOURCE = "WebhookEndpoint"
SETTINGS_ENDPOINT = "event-webhook-from-settings"  # CARI_EVENT_WEBHOOK_URL's endpoint id
MAX_PAGE = 200
MANAGERS = (Role.INTEGRATOR,)  # and admin, always


class WebhookEndpoints:
    def __init__(self, store: WebhookStore, guard: EndpointUrlGuard, signer: WebhookSigner,
                 audit: AuditTrail, clock: Clock, policy: DeliveryPolicy,
                 enqueue: EventEnqueuer) -> None:
        self._store = store
        self._guard = guard
        self._signer = signer
        self._audit = audit
        self._clock = clock
        self._policy = policy
        self._enqueue = enqueue

    async def _record(self, caller: Caller, action: AuditAction, endpoint_id: str,
                      outcome: AuditOutcome = AuditOutcome.SUCCESS) -> None:
        await self._audit.record(audit_records(
            caller, action=action, resource_type=RESOURCE, targets=[(endpoint_id, None)],
            outcome=outcome, at=self._clock.now()))

    async def _checked_url(self, url: str) -> str:
        url = url.strip()
        reason = await self._guard.refusal(url)
        if reason is not None:
            raise InvalidInput("the endpoint URL may not be used",
                               details=[{"field": "url", "message": reason}],
                               reason_code="endpoints.url_refused", params={"why": reason})
        return url

    async def _found(self, caller: Caller, endpoint_id: str, action: AuditAction) -> Endpoint:
        endpoint = await self._store.get_endpoint(endpoint_id)
        if endpoint is None:
            await self._record(caller, action, endpoint_id, AuditOutcome.NOT_FOUND)
            raise NotFound(f"no webhook endpoint with id {endpoint_id!r}",
                           reason_code="endpoints.not_found", params={"id": endpoint_id})
        return endpoint

    async def create(self, caller: Caller, *, url: str, event_types: list[str],
                     resource_types: list[str], description: str) -> CreatedEndpoint:
        require_role(caller, *MANAGERS)
        patterns, types = check_filters(event_types, resource_types)
        url = await self._checked_url(url)
        now = self._clock.now()
        endpoint = Endpoint(id=new_id(), url=url, event_types=patterns, resource_types=types,
                            description=description, enabled=True,
                            secret=self._signer.new_secret(), previous_secret=None,
                            created_by=caller.principal.subject[:200], created_at=now,
                            updated_at=now)
        await self._store.add_endpoint(endpoint)
        await self._record(caller, AuditAction.CREATE, endpoint.id)
        return CreatedEndpoint(endpoint, endpoint.secret)

    async def list(self, caller: Caller, after: str | None, limit: int) -> list[Endpoint]:
        require_role(caller, *MANAGERS)
        found = await self._store.list_endpoints(after, max(1, min(limit, MAX_PAGE)))
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type=RESOURCE,
            targets=[(e.id, None) for e in found] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return found

    async def get(self, caller: Caller, endpoint_id: str) -> Endpoint:
        require_role(caller, *MANAGERS)
        endpoint = await self._found(caller, endpoint_id, AuditAction.READ)
        await self._record(caller, AuditAction.READ, endpoint_id)
        return endpoint

    async def update(self, caller: Caller, endpoint_id: str,
                     changes: EndpointChanges) -> Endpoint:
        require_role(caller, *MANAGERS)
        endpoint = await self._found(caller, endpoint_id, AuditAction.UPDATE)
        patterns, types = check_filters(
            list(changes.event_types if changes.event_types is not None
                 else endpoint.event_types),
            list(changes.resource_types if changes.resource_types is not None
                 else endpoint.resource_types))
        url = endpoint.url if changes.url is None else await self._checked_url(changes.url)
        updated = replace(endpoint, url=url, event_types=patterns, resource_types=types,
                          description=endpoint.description if changes.description is None
                          else changes.description, updated_at=self._clock.now())
        return await self._save(caller, updated)

    async def set_enabled(self, caller: Caller, endpoint_id: str, enabled: bool) -> Endpoint:
        require_role(caller, *MANAGERS)
        endpoint = await self._found(caller, endpoint_id, AuditAction.UPDATE)
        if enabled and not endpoint.enabled:
            await self._checked_url(endpoint.url)  # the allow-list may have changed since
        updated = replace(endpoint, enabled=enabled, updated_at=self._clock.now(),
                          disabled_reason=None if enabled else "disabled by "
                          f"{caller.principal.subject}"[:200], failing_since=None)
        return await self._save(caller, updated)

    async def _save(self, caller: Caller, endpoint: Endpoint) -> Endpoint:
        if not await self._store.save_endpoint(endpoint):
            await self._record(caller, AuditAction.UPDATE, endpoint.id, AuditOutcome.NOT_FOUND)
            raise NotFound(f"no webhook endpoint with id {endpoint.id!r}",
                           reason_code="endpoints.not_found", params={"id": endpoint.id})
        await self._record(caller, AuditAction.UPDATE, endpoint.id)
        return endpoint

    async def delete(self, caller: Caller, endpoint_id: str) -> None:
        require_role(caller, *MANAGERS)
        if not await self._store.delete_endpoint(endpoint_id):
            await self._record(caller, AuditAction.DELETE, endpoint_id, AuditOutcome.NOT_FOUND)
            raise NotFound(f"no webhook endpoint with id {endpoint_id!r}",
                           reason_code="endpoints.not_found", params={"id": endpoint_id})
        await self._record(caller, AuditAction.DELETE, endpoint_id)

    async def rotate_secret(self, caller: Caller, endpoint_id: str) -> RotatedSecret:
        """A new secret (answered once); the old one still signs for the grace period, so
        a consumer that switches keys any time within it drops nothing."""
        require_role(caller, *MANAGERS)
        endpoint = await self._found(caller, endpoint_id, AuditAction.UPDATE)
        now = self._clock.now()
        expires = now + self._policy.rotation_grace
        rotated = replace(endpoint, secret=self._signer.new_secret(),
                          previous_secret=EndpointSecret(endpoint.secret, expires),
                          updated_at=now)
        await self._save(caller, rotated)
        return RotatedSecret(rotated, rotated.secret, expires)

    async def from_settings(self, url: str, secret: str | None) -> tuple[Endpoint, bool]:
        """CARI_EVENT_WEBHOOK_URL as a subscription to every event: one endpoint, whatever the
        number of processes starting, made at the first start and kept in step with the
        settings after (a new URL enables it again). True when its secret was generated
        because none was given. The URL is the operator's: the delivery guard judges it."""
        now = self._clock.now()
        wanted = Endpoint(id=SETTINGS_ENDPOINT, url=url, event_types=("*",), resource_types=(),
                          description="CARI_EVENT_WEBHOOK_URL", enabled=True,
                          secret=secret or self._signer.new_secret(), previous_secret=None,
                          created_by="settings", created_at=now, updated_at=now,
                          managed_by_settings=True)
        stored = await self._store.add_endpoint_once(wanted)
        moved = stored.url != url
        current = replace(stored, url=url, secret=secret or stored.secret,
                          enabled=stored.enabled or moved,
                          disabled_reason=None if moved else stored.disabled_reason)
        if current != stored:
            await self._store.save_endpoint(replace(current, updated_at=now))
        return current, not secret and stored.secret == wanted.secret

    async def send_test(self, caller: Caller, endpoint_id: str) -> str:
        """Queue a ``webhook.test`` event for this endpoint alone; its event id."""
        require_role(caller, *MANAGERS)
        endpoint = await self._found(caller, endpoint_id, AuditAction.EXECUTE)
        message = webhook_event("webhook.test", {
            "endpoint_id": endpoint.id, "message": "a test event sent on request"},
            self._clock.now(), only_endpoint=endpoint.id)
        await self._enqueue([message])
        await self._record(caller, AuditAction.EXECUTE, endpoint_id)
        return str(message.payload["id"])

