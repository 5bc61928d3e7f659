"""Ports of critical-value alerting: the live feed, the clinicians' phones, the endpoints."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from resolvers.labs.alerting.model import RaisedAlert


class LabAlertFeed(Protocol):
    """Raised alerts, live, to every listener of every gateway process sharing a database
    (PostgreSQL LISTEN/NOTIFY), or of this process (SQLite, the in-memory feed).

    ``publish`` is called after the alert's commit (never before): a listener never hears
    of an alert it could not read. Delivery is at least once: a listener may see the same
    (alert, escalation level) twice after an outbox retry."""

    async def publish(self, alert: RaisedAlert) -> None: ...

    def listen(self) -> contextlib.AbstractAsyncContextManager[AsyncIterator[RaisedAlert]]:
        """The alerts published from now on, until the context exits."""
        ...


class ClinicianPhones(Protocol):
    async def phone_of(self, provider_id: str) -> str | None:
        """The clinician's phone (any usual form), or None when nobody recorded one."""
        ...


class AlertSubscribers(Protocol):
    async def any_wants(self, event_type: str) -> bool:
        """Does at least one enabled webhook endpoint subscribe to ``event_type``?"""
        ...
