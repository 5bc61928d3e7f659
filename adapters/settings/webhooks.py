"""Parsing and checking the CARI_* webhook secrets (called from adapters.settings)."""

from __future__ import annotations

import base64
import binascii
import re

from adapters.settings.pairs import parse_pairs

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
    pairs = parse_pairs(raw, "CARI_LEAD_SOURCES", "secret", problems)
    for name, secret in pairs:
        if not _SOURCE_NAME.match(name):
            problems.append(f"CARI_LEAD_SOURCES source {name[:30]!r}: names are 1 to 64 letters, "
                            "digits, '.', '_' or '-'")
        if len(secret) < MIN_SECRET_LENGTH:
            problems.append(f"CARI_LEAD_SOURCES source {name[:30]!r}: the secret must be at least "
                            f"{MIN_SECRET_LENGTH} characters")
    return tuple(pairs)
