"""``CARI_CONSOLE_*`` settings: the operator console's session lifetimes and sealing key.

Kept apart from :mod:`adapters.settings` (one concept per module); every problem is added
to the caller's list so an operator sees them all at once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

SESSION_KEY_BYTES = 32


@dataclass(frozen=True)
class ConsoleSettings:
    # A session ends after this many minutes without a request (idle) ...
    session_minutes: int = 30
    # ... and this many after sign-in whatever happens (absolute); never after the operator's
    # token expires.
    session_absolute_minutes: int = 480
    # 32 bytes (base64) sealing the session cookies; empty: a key created under
    # CARI_DATA_DIR. Set it when several hosts serve one console behind a load balancer.
    session_key: bytes = field(default=b"", repr=False)


def _minutes(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 7 * 24 * 60:
        problems.append(f"{name}={raw!r}: expected whole minutes between 1 and 10080")
        return default
    return int(raw)


def load_console_settings(env: Mapping[str, str], problems: list[str]) -> ConsoleSettings:
    key = b""
    raw_key = env.get("CARI_CONSOLE_SESSION_KEY", "").strip()
    if raw_key:
        try:
            key = base64.b64decode(raw_key, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != SESSION_KEY_BYTES:
            problems.append("CARI_CONSOLE_SESSION_KEY: expected 32 random bytes in base64 "
                            "(e.g. `openssl rand -base64 32`)")
            key = b""
    idle = _minutes(env, "CARI_CONSOLE_SESSION_MINUTES", 30, problems)
    absolute = _minutes(env, "CARI_CONSOLE_SESSION_ABSOLUTE_MINUTES", 480, problems)
    if absolute < idle:
        problems.append("CARI_CONSOLE_SESSION_ABSOLUTE_MINUTES must be at least "
                        "CARI_CONSOLE_SESSION_MINUTES")
    return ConsoleSettings(session_minutes=idle, session_absolute_minutes=absolute,
                           session_key=key)
