"""``CARI_HIE_*`` settings: per-country overrides of the cross-border HIE profiles.

Each of the eight documented countries (resolvers/crossborder/countries.py) has a default
profile; every field can be overridden per deployment with ``CARI_HIE_<CC>_<FIELD>``:

  BASE_URL, IDENTIFIER_SYSTEM, MODE (fhir|pdqm|pixm), AUTH (none|bearer|oauth2|mtls),
  TIMEOUT (seconds), TOKEN_URL, CLIENT_ID, CLIENT_SECRET, BEARER_TOKEN,
  CLIENT_CERT, CLIENT_KEY, CA_BUNDLE, TARGET_SYSTEM

plus ``CARI_HIE_BREAKER_FAILURES`` (consecutive failures that open a country's circuit,
default 5), ``CARI_HIE_BREAKER_RESET_SECONDS`` (how long it stays open, default 30) and
``CARI_HIE_CACHE_SECONDS`` (answers kept per purpose of use; 0, the default, keeps none;
at most 300).
Every problem is added to the caller's list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from resolvers.crossborder.model import AuthKind, QueryMode

COUNTRIES = ("KE", "GH", "NG", "ZA", "TZ", "UG", "RW", "ET")
_TEXT = {"IDENTIFIER_SYSTEM": "identifier_system", "CLIENT_ID": "client_id",
         "CLIENT_SECRET": "client_secret", "BEARER_TOKEN": "bearer_token",
         "TARGET_SYSTEM": "target_system"}
_URLS = {"BASE_URL": "base_url", "TOKEN_URL": "token_url"}
_FILES = {"CLIENT_CERT": "client_cert", "CLIENT_KEY": "client_key", "CA_BUNDLE": "ca_bundle"}

Override = str | float | QueryMode | AuthKind


@dataclass(frozen=True)
class HieSettings:
    # country code -> {CountryProfile field: value}
    overrides: Mapping[str, Mapping[str, Override]] = field(default_factory=dict)
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    cache_seconds: float = 0.0  # 0: no cache (the default); at most 300


def _country(env: Mapping[str, str], code: str, problems: list[str]) -> dict[str, Override]:
    found: dict[str, Override] = {}
    prefix = f"CARI_HIE_{code}_"
    for suffix, name in (*_TEXT.items(), *_URLS.items(), *_FILES.items()):
        raw = env.get(prefix + suffix)
        if raw is None or not raw.strip():
            continue
        value = raw.strip()
        if suffix in _URLS:
            value = value.rstrip("/")
            if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
                problems.append(f"{prefix}{suffix}={value!r}: expected an absolute http(s) URL")
        if suffix in _FILES and not Path(value).is_file():
            problems.append(f"{prefix}{suffix}={value!r}: no such file")
        found[name] = value
    mode = env.get(prefix + "MODE", "").strip().lower()
    if mode:
        try:
            found["mode"] = QueryMode(mode)
        except ValueError:
            problems.append(f"{prefix}MODE={mode!r}: expected one of fhir, pdqm, pixm")
    auth = env.get(prefix + "AUTH", "").strip().lower()
    if auth:
        try:
            found["auth"] = AuthKind(auth)
        except ValueError:
            problems.append(f"{prefix}AUTH={auth!r}: expected one of none, bearer, oauth2, mtls")
    timeout = env.get(prefix + "TIMEOUT", "").strip()
    if timeout:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not 0.05 <= seconds <= 120:
            problems.append(f"{prefix}TIMEOUT={timeout!r}: expected seconds between 0.05 and 120")
        else:
            found["timeout_seconds"] = seconds
    if found.get("auth") is AuthKind.MTLS and not (found.get("client_cert")):
        problems.append(f"{prefix}AUTH=mtls needs {prefix}CLIENT_CERT (and _CLIENT_KEY)")
    return found


def load_hie_settings(env: Mapping[str, str], problems: list[str]) -> HieSettings:
    overrides = {code: o for code in COUNTRIES if (o := _country(env, code, problems))}

    def number(name: str, default: str, minimum: float) -> float:
        raw = env.get(name, default).strip()
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: expected a number")
            return float(default)
        if value < minimum:
            problems.append(f"{name}={raw!r}: must be at least {minimum:g}")
        return value

    return HieSettings(overrides=overrides,
                       breaker_failures=int(number("CARI_HIE_BREAKER_FAILURES", "5", 1)),
                       breaker_reset_seconds=number("CARI_HIE_BREAKER_RESET_SECONDS", "30", 0),
                       cache_seconds=min(number("CARI_HIE_CACHE_SECONDS", "0", 0), 300.0))
