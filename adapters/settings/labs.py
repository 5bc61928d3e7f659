"""``CARI_LAB_*`` settings: who sends lab results, what happens to strangers, and alerts.

Kept apart from :mod:`adapters.settings` (one concept per module); every problem is added
to the caller's list so an operator sees them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from adapters.settings.lab_alert_routes import LabAlertRouteSettings, load_lab_alert_routes
from adapters.settings.pairs import parse_pairs


@dataclass(frozen=True)
class LabSettings:
    # PID-3 without an assigning authority is scoped to its sender (MSH-4, else MSH-3):
    # (sender or authority name, identifier system URI) pairs, e.g. KNH_LAB=urn:oid:2.16.404.1.
    identifier_systems: tuple[tuple[str, str], ...] = ()
    provisional_patients: bool = True  # a result for an unknown patient creates one
    alert_escalate_seconds: float = 900.0  # unacknowledged this long: escalate (0: never)
    alert_max_escalations: int = 3
    alert_escalation_recipient: str = "lab-supervisor"
    alert_webhook_url: str = ""  # a delivery channel for critical alerts (JSON POST)
    # CARI_LAB_ALERT_ROUTES, CARI_CLINICIAN_PHONES, the clinician template (lab_alert_routes.py)
    alert_routing: LabAlertRouteSettings = field(default_factory=LabAlertRouteSettings)


def _parse_systems(raw: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = parse_pairs(raw, "CARI_LAB_IDENTIFIER_SYSTEMS", "system-uri", problems)
    for sender, system in pairs:
        if not sender or not system or ":" not in system or any(c.isspace() for c in system):
            problems.append(f"CARI_LAB_IDENTIFIER_SYSTEMS entry {sender!r}: the system must be "
                            f"a URI such as urn:oid:1.2.3 or https://lab.example/mrn, not "
                            f"{system!r}")
    return tuple(pairs)


def load_lab_settings(env: Mapping[str, str], problems: list[str]) -> LabSettings:
    def get(name: str, default: str) -> str:
        return env.get(name, default).strip()

    provisional = get("CARI_LAB_PROVISIONAL_PATIENTS", "true").lower()
    if provisional not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        problems.append(f"CARI_LAB_PROVISIONAL_PATIENTS={provisional!r}: expected true/false")

    def number(name: str, default: str, minimum: float) -> float:
        raw = get(name, default)
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: expected a number")
            return float(default)
        if value < minimum:
            problems.append(f"{name}={raw!r}: must be at least {minimum:g}")
        return value

    webhook = get("CARI_LAB_ALERT_WEBHOOK_URL", "")
    if webhook and (urlsplit(webhook).scheme not in ("http", "https")
                    or not urlsplit(webhook).netloc):
        problems.append(f"CARI_LAB_ALERT_WEBHOOK_URL={webhook!r}: expected an http(s) URL")
    recipient = get("CARI_LAB_ALERT_ESCALATION_RECIPIENT", "lab-supervisor")
    if not recipient or len(recipient) > 200:
        problems.append("CARI_LAB_ALERT_ESCALATION_RECIPIENT: 1 to 200 characters")
    return LabSettings(
        identifier_systems=_parse_systems(env.get("CARI_LAB_IDENTIFIER_SYSTEMS", ""), problems),
        provisional_patients=provisional in ("1", "true", "yes", "on"),
        alert_escalate_seconds=number("CARI_LAB_ALERT_ESCALATE_SECONDS", "900", 0.0),
        alert_max_escalations=int(number("CARI_LAB_ALERT_MAX_ESCALATIONS", "3", 0.0)),
        alert_escalation_recipient=recipient[:200] or "lab-supervisor",
        alert_webhook_url=webhook,
        alert_routing=load_lab_alert_routes(env, problems),
    )
