"""Where a critical-value alert goes, and what a live subscriber is told about it.

**Routes.** Each facility has an ordered list of channels (``CARI_LAB_ALERT_ROUTES``); the
facility of an alert is the *sending facility* (MSH-4) of the lab message it came from, as
``lab_results`` stores it, since that is what the gateway keeps for every result (a
facility's own lab system, or the lab that serves it). ``"*"`` is the list of any other
facility. Raising sends to the first channel; escalation ``n`` sends to channel ``n`` (the
last channel again once the list is exhausted). A channel that can reach nobody (no phone
for the ordering clinician, no endpoint subscribed) hands over to the next one at once.

Channel texts:

* ``subscriptions``: the ``lab.alert.raised`` webhook event (always emitted); counts as
  delivered when at least one enabled endpoint subscribes to it;
* ``whatsapp:ordering-clinician``: a template to the ordering clinician's phone (OBR-16 /
  ORC-12 provider id, looked up in ``CARI_CLINICIAN_PHONES`` then the FHIR store's
  Practitioner by identifier);
* ``whatsapp:+2547...``: the template to a fixed (on-call) number;
* ``webhook:https://...``: a JSON POST of the alert (``CARI_LAB_ALERT_WEBHOOK_URL`` is the
  route ``["webhook:<url>"]`` when no routes are configured).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

SUBSCRIPTIONS = "subscriptions"
WHATSAPP = "whatsapp"
WEBHOOK = "webhook"
ORDERING_CLINICIAN = "ordering-clinician"
ANY_FACILITY = "*"
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,30}$")


class InvalidChannel(ValueError):
    """A channel text that names no channel (the message says what was expected)."""


@dataclass(frozen=True)
class ChannelSpec:
    kind: str  # subscriptions | whatsapp | webhook
    target: str = ""  # ordering-clinician or a phone (whatsapp), a URL (webhook)

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @classmethod
    def parse(cls, text: str) -> ChannelSpec:
        raw = text.strip()
        kind, _, target = raw.partition(":")
        kind, target = kind.strip().lower(), target.strip()
        if kind == SUBSCRIPTIONS and not target:
            return cls(SUBSCRIPTIONS)
        if kind == WHATSAPP and (target.lower() == ORDERING_CLINICIAN or _PHONE.match(target)):
            return cls(WHATSAPP, ORDERING_CLINICIAN if target.lower() == ORDERING_CLINICIAN
                       else target)
        if kind == WEBHOOK and urlsplit(target).scheme in ("http", "https") \
                and urlsplit(target).netloc:
            return cls(WEBHOOK, target)
        raise InvalidChannel(
            f"{raw[:60]!r} is not a channel: expected 'subscriptions', "
            "'whatsapp:ordering-clinician', 'whatsapp:<phone>' or 'webhook:<http(s) URL>'")


@dataclass(frozen=True)
class AlertRoutes:
    """The ordered channels of each facility (``*``: every facility not listed)."""

    by_facility: Mapping[str, tuple[ChannelSpec, ...]]

    @classmethod
    def of(cls, routes: Iterable[tuple[str, Sequence[str]]]) -> AlertRoutes:
        return cls({facility.strip(): tuple(ChannelSpec.parse(c) for c in channels)
                    for facility, channels in routes})

    def channels_for(self, facility: str) -> tuple[ChannelSpec, ...]:
        found = self.by_facility.get(facility.strip())
        return found if found is not None else self.by_facility.get(ANY_FACILITY, ())

    def all_channels(self) -> list[ChannelSpec]:
        return list(dict.fromkeys(c for cs in self.by_facility.values() for c in cs))


def channel_order(count: int, level: int) -> range:
    """The channels tried for escalation ``level``: from its own, on to the end; the last
    one alone once escalations outnumber the channels."""
    if count == 0:
        return range(0)
    return range(min(level, count - 1), count)


@dataclass(frozen=True)
class RaisedAlert:
    """What a live subscriber learns of a raised (or escalated) alert: ids, the facility,
    the test code and direction; never the value or a name."""

    alert_id: str
    facility: str
    lab_result_id: str
    patient_id: str | None
    code: str
    direction: str | None
    created_at: datetime
    escalation_level: int

    def to_json(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "facility": self.facility,
                "lab_result_id": self.lab_result_id, "patient_id": self.patient_id,
                "code": self.code, "direction": self.direction,
                "created_at": self.created_at.isoformat(),
                "escalation_level": self.escalation_level}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RaisedAlert:
        patient = data.get("patient_id")
        direction = data.get("direction")
        return cls(alert_id=str(data["alert_id"]), facility=str(data.get("facility", "")),
                   lab_result_id=str(data["lab_result_id"]),
                   patient_id=str(patient) if patient else None, code=str(data.get("code", "")),
                   direction=str(direction) if direction else None,
                   created_at=datetime.fromisoformat(str(data["created_at"])),
                   escalation_level=int(data.get("escalation_level", 0)))


def provider_id(recipient: str) -> str:
    """The ordering provider's id: the first component of OBR-16 / ORC-12 (id^family^given)."""
    return recipient.split("^", 1)[0].strip()


@dataclass(frozen=True)
class WhatsAppAlertTemplate:
    """The clinician's template: one body parameter, the link to the alert; no value, no
    patient name (the template's text says a critical result needs attention)."""

    name: str = "critical_lab_alert"
    language: str = "en"
    link_base: str = ""  # CARI_PUBLIC_BASE_URL + CARI_LAB_ALERT_LINK_PATH, {id} in it

    def link(self, alert_id: str) -> str:
        return self.link_base.replace("{id}", alert_id)
