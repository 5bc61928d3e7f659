"""Parsing and checking the CARI_* webhook secrets (called from adapters.settings)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_SECRET_LENGTH = 16


def parse_stripe_secrets(raw: str, problems: list[str]) -> tuple[str, ...]:
    secrets = tuple(s.strip() for s in raw.split(",") if s.strip())
    for secret in secrets:
        if not secret.startswith("whsec_") or len(secret) < 10:
            problems.append("CARI_STRIPE_WEBHOOK_SECRETS: each entry must be an endpoint signing "
                            "secret starting with whsec_ (not an API key)")
            break
    return secrets


def check_resend_secret(secret: str, problems: list[str]) -> None:
    if not secret:
        return
    body = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(body + "==", validate=False)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith("whsec_") or not key:
        problems.append("CARI_RESEND_WEBHOOK_SECRET: expected the Svix signing secret "
                        "whsec_<base64> shown in the Resend dashboard")


def parse_lead_sources(raw: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    """JSON ``{"website": "secret", ...}`` or ``website=secret,partner-x=secret2``."""
    raw = raw.strip()
    if not raw:
        return ()
    pairs: list[tuple[str, str]] = []
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            problems.append("CARI_LEAD_SOURCES: not valid JSON; expected "
                            '{"source-name": "secret", ...} or name=secret,name2=secret2')
            return ()
        if not isinstance(data, Mapping):
            problems.append("CARI_LEAD_SOURCES: expected a JSON object of name -> secret")
            return ()
        pairs = [(str(k), v if isinstance(v, str) else "") for k, v in data.items()]
    else:
        for entry in (e.strip() for e in raw.split(",") if e.strip()):
            name, sep, secret = entry.partition("=")
            if not sep:
                problems.append(f"CARI_LEAD_SOURCES entry {name[:30]!r}: expected name=secret")
                continue
            pairs.append((name.strip(), secret.strip()))
    for name, secret in pairs:
        if not _SOURCE_NAME.match(name):
            problems.append(f"CARI_LEAD_SOURCES source {name[:30]!r}: names are 1 to 64 letters, "
                            "digits, '.', '_' or '-'")
        if len(secret) < MIN_SECRET_LENGTH:
            problems.append(f"CARI_LEAD_SOURCES source {name[:30]!r}: the secret must be at least "
                            f"{MIN_SECRET_LENGTH} characters")
    return tuple(pairs)
