"""``CARI_SMART_*`` settings: lifetimes of SMART launches, codes and tokens.

Kept apart from :mod:`adapters.settings` (one concept per module); every problem is added
to the caller's list so an operator sees them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SmartSettings:
    launch_seconds: int = 300  # an EHR launch id is usable this long (and once)
    code_seconds: int = 60  # an authorization code is usable this long (and once)
    access_token_seconds: int = 3600
    refresh_token_seconds: int = 30 * 24 * 3600  # offline_access; online_access: 8 hours
    assertion_max_seconds: int = 300  # a client assertion's exp at most this far ahead


_LIMITS = {
    "CARI_SMART_LAUNCH_SECONDS": ("launch_seconds", 10, 86_400),
    "CARI_SMART_CODE_SECONDS": ("code_seconds", 10, 600),
    "CARI_SMART_ACCESS_TOKEN_SECONDS": ("access_token_seconds", 60, 86_400),
    "CARI_SMART_REFRESH_TOKEN_SECONDS": ("refresh_token_seconds", 300, 365 * 86_400),
    "CARI_SMART_ASSERTION_MAX_SECONDS": ("assertion_max_seconds", 30, 3600),
}


def load_smart_settings(env: Mapping[str, str], problems: list[str]) -> SmartSettings:
    values: dict[str, int] = {}
    for name, (attr, low, high) in _LIMITS.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not low <= int(raw) <= high:
            problems.append(f"{name}={raw!r}: expected whole seconds between {low} and {high}")
            continue
        values[attr] = int(raw)
    return SmartSettings(**values)
