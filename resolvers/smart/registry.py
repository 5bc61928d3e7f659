"""The SMART app registry (admin) and EHR launches (clinician)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import InvalidInput, NotFound
from resolvers.principal import Caller, Role, require_role
from resolvers.smart.config import SmartConfig, digest
from resolvers.smart.model import AppDraft, Grant, LaunchView, RegisteredApp, SmartApp
from resolvers.smart.ports import SmartStore
from resolvers.smart.scopes import is_known

MAX_URIS = 20


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def check_draft(draft: AppDraft) -> None:
    problems: list[dict[str, str]] = []
    if not draft.name.strip():
        problems.append({"field": "name", "message": "required"})
    for name, urls in (("redirect_uris", draft.redirect_uris), ("launch_urls",
                                                                  draft.launch_urls)):
        if len(urls) > MAX_URIS:
            problems.append({"field": name, "message": f"at most {MAX_URIS}"})
        problems += [{"field": name, "message": f"{u!r} is not an absolute http(s) URL"}
                     for u in urls if not _absolute(u)]
    problems += [{"field": "scopes", "message": f"{s!r} is not a SMART scope"}
                 for s in draft.scopes if not is_known(s)]
    if draft.jwks_url is not None and not _absolute(draft.jwks_url):
        problems.append({"field": "jwks_url", "message": "not an absolute http(s) URL"})
    if draft.jwks is not None and not isinstance(draft.jwks.get("keys"), list):
        problems.append({"field": "jwks", "message": "a JWKS is an object with a keys list"})
    if not draft.redirect_uris and not (draft.jwks or draft.jwks_url):
        problems.append({"field": "redirect_uris", "message": "an app without a JWKS "
                         "(not a backend service) needs at least one redirect URI"})
    if problems:
        raise InvalidInput("the app registration is not valid", details=problems)


class SmartApps:
    def __init__(self, store: SmartStore, clock: Clock, config: SmartConfig,
                 audit: AuditTrail) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._audit = audit

    async def register(self, caller: Caller, draft: AppDraft) -> RegisteredApp:
        require_role(caller, Role.ADMIN)
        check_draft(draft)
        secret = secrets.token_urlsafe(32) if draft.confidential and not (
            draft.jwks or draft.jwks_url) else None
        app = SmartApp(client_id=str(uuid.uuid4()), name=draft.name.strip(),
                       redirect_uris=draft.redirect_uris, scopes=draft.scopes,
                       launch_urls=draft.launch_urls,
                       confidential=draft.confidential or bool(draft.jwks or draft.jwks_url),
                       secret_hash=digest(secret) if secret else None, jwks_url=draft.jwks_url,
                       jwks=draft.jwks, created_at=self._clock.now(),
                       created_by=caller.principal.subject)
        await self._store.add_app(app)
        return RegisteredApp(app, secret)

    async def list(self, caller: Caller) -> list[SmartApp]:
        require_role(caller, Role.ADMIN)
        return await self._store.list_apps()

    async def get(self, caller: Caller, client_id: str) -> SmartApp:
        require_role(caller, Role.ADMIN)
        app = await self._store.get_app(client_id)
        if app is None:
            raise NotFound(f"no SMART app {client_id!r}")
        return app

    async def launch(self, caller: Caller, patient: str, encounter: str | None,
                     launch_url: str) -> LaunchView:
        """An EHR launch: a single-use launch id bound to the app whose launch URL this is,
        carrying the patient, encounter and the launching user."""
        require_role(caller, Role.CLINICIAN)
        if not patient.strip():
            raise InvalidInput("patient is required",
                               details=[{"field": "patient", "message": "required"}])
        app = next((a for a in await self._store.list_apps() if launch_url in a.launch_urls),
                   None)
        if app is None:
            raise InvalidInput("launch_url does not belong to a registered SMART app",
                               details=[{"field": "launch_url", "message": "not registered"}])
        launch_id = str(uuid.uuid4())
        fhir_user = f"Practitioner/{caller.principal.subject}"
        now = self._clock.now()
        await self._store.add_grant(Grant(
            key_hash=digest(launch_id), kind="launch", client_id=app.client_id,
            expires_at=now + timedelta(seconds=self._config.launch_seconds),
            data={"patient": patient, "encounter": encounter, "fhirUser": fhir_user,
                  "subject": caller.principal.subject}))
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type="SmartLaunch",
            targets=[(launch_id, patient)], outcome=AuditOutcome.SUCCESS, at=now))
        query = urlencode({"iss": self._config.fhir_base, "launch": launch_id})
        sep = "&" if urlsplit(launch_url).query else "?"
        return LaunchView(launch_id, {
            "patient": patient, "encounter": encounter, "fhirUser": fhir_user,
            "client_id": app.client_id, "iss": self._config.fhir_base,
            "launch_url": f"{launch_url}{sep}{query}"})
