"""``CARI_WEBHOOK_*`` settings of outbound webhook subscriptions.

* ``CARI_WEBHOOK_TIMEOUT_SECONDS`` (15): how long one attempt waits for an answer.
* ``CARI_WEBHOOK_RETRY_SCHEDULE``: the delays in seconds after each failed attempt, comma
  separated (default: Svix's schedule stretched to about three days, resolvers/notifications/
  policy.py); its length plus one is the number of attempts.
* ``CARI_WEBHOOK_DISABLE_AFTER_SECONDS`` (432000, 5 days): an endpoint whose every attempt
  failed for this long is disabled.
* ``CARI_WEBHOOK_ROTATION_GRACE_SECONDS`` (86400): how long a rotated-out secret still signs.
* ``CARI_EVENT_WEBHOOK_SECRET``: the ``whsec_`` secret of the endpoint made from
  ``CARI_EVENT_WEBHOOK_URL`` (absent: one is generated and kept; rotate it to read it).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from resolvers.notifications.model import DEFAULT_SCHEDULE


@dataclass(frozen=True)
class WebhookOutSettings:
    timeout_seconds: float = 15.0
    retry_schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    disable_after_seconds: float = 5 * 86_400
    rotation_grace_seconds: float = 86_400
    event_webhook_secret: str = ""


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float,
             problems: list[str]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        problems.append(f"{name}={raw!r}: expected seconds between {low:g} and {high:g}")
        return default
    return value


def _schedule(raw: str, problems: list[str]) -> tuple[float, ...]:
    if not raw.strip():
        return DEFAULT_SCHEDULE
    try:
        delays = tuple(float(part) for part in raw.split(","))
    except ValueError:
        delays = ()
    if not delays or len(delays) > 30 or any(not 0 <= d <= 7 * 86_400 for d in delays):
        problems.append(f"CARI_WEBHOOK_RETRY_SCHEDULE={raw!r}: expected 1 to 30 comma-"
                        "separated delays in seconds, each at most 604800")
        return DEFAULT_SCHEDULE
    return delays


def _secret(raw: str, problems: list[str]) -> str:
    if not raw:
        return ""
    try:
        key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not raw.startswith("whsec_") or not 24 <= len(key) <= 64:
        problems.append("CARI_EVENT_WEBHOOK_SECRET: expected whsec_ followed by the base64 of "
                        "24 to 64 random bytes")
        return ""
    return raw


def load_webhook_out_settings(env: Mapping[str, str], problems: list[str]) -> WebhookOutSettings:
    return WebhookOutSettings(
        timeout_seconds=_seconds(env, "CARI_WEBHOOK_TIMEOUT_SECONDS", 15.0, 0.1, 120, problems),
        retry_schedule=_schedule(env.get("CARI_WEBHOOK_RETRY_SCHEDULE", ""), problems),
        disable_after_seconds=_seconds(env, "CARI_WEBHOOK_DISABLE_AFTER_SECONDS", 5 * 86_400,
                                       0.01, 90 * 86_400, problems),
        rotation_grace_seconds=_seconds(env, "CARI_WEBHOOK_ROTATION_GRACE_SECONDS", 86_400,
                                        0, 30 * 86_400, problems),
        event_webhook_secret=_secret(env.get("CARI_EVENT_WEBHOOK_SECRET", "").strip(),
                                     problems))
