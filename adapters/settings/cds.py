"""``CARI_CDS_*`` settings: CDS Hooks CORS origins, the registered CDS clients (their JWT
issuers and keys), how long issued cards take feedback, the lab look-back.

``CARI_CDS_CLIENTS`` is a JSON array, one object per CDS client (an EHR):
``{"iss": "https://ehr.example.org", "jwks": {"keys": [...]}}`` (keys exchanged out of band)
or ``{"iss": ..., "jwks_url": "https://ehr.example.org/.well-known/jwks.json"}``; an optional
``"jku": [urls]`` lists the JWKS URLs its JWT headers may name. URLs are fetched through the
allow-listed outbound client (``CARI_OUTBOUND_ALLOWLIST``) and cached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class CdsClient:
    iss: str
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None
    jku: tuple[str, ...] = ()


@dataclass(frozen=True)
class CdsSettings:
    cors_origins: tuple[str, ...] = ()  # CARI_CDS_CORS_ORIGINS: comma-separated origins
    clients: tuple[CdsClient, ...] = ()  # CARI_CDS_CLIENTS
    card_seconds: int = 7 * 86_400  # CARI_CDS_CARD_SECONDS: feedback accepted this long
    jwks_cache_seconds: int = 300  # CARI_CDS_JWKS_CACHE_SECONDS
    lab_lookback_hours: int = 168  # CARI_CDS_LAB_LOOKBACK_HOURS: "recent" lab results
    clients_by_iss: Mapping[str, CdsClient] = field(default_factory=dict)


def _url(raw: Any) -> bool:
    return isinstance(raw, str) and urlsplit(raw).scheme in ("http", "https") and bool(
        urlsplit(raw).hostname)


def _client(raw: Any, n: int, problems: list[str]) -> CdsClient | None:
    where = f"CARI_CDS_CLIENTS[{n}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("iss"), str) or not raw["iss"]:
        problems.append(f"{where}: expected an object with a non-empty iss")
        return None
    jwks, jwks_url, jku = raw.get("jwks"), raw.get("jwks_url"), raw.get("jku", [])
    if (jwks is None) == (jwks_url is None):
        problems.append(f"{where}: give exactly one of jwks and jwks_url")
        return None
    if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
        problems.append(f"{where}.jwks: expected a JWKS object with keys")
        return None
    if jwks_url is not None and not _url(jwks_url):
        problems.append(f"{where}.jwks_url: expected an absolute http(s) URL")
        return None
    if not isinstance(jku, list) or not all(_url(u) for u in jku):
        problems.append(f"{where}.jku: expected an array of absolute http(s) URLs")
        return None
    return CdsClient(iss=raw["iss"], jwks=jwks, jwks_url=jwks_url, jku=tuple(jku))


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int,
           problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        problems.append(f"{name}={raw!r}: expected a whole number between {low} and {high}")
        return default
    return int(raw)


def load_cds_settings(env: Mapping[str, str], problems: list[str]) -> CdsSettings:
    origins = tuple(o.strip().rstrip("/") for o in env.get("CARI_CDS_CORS_ORIGINS", "")
                    .split(",") if o.strip())
    clients: list[CdsClient] = []
    raw = env.get("CARI_CDS_CLIENTS", "").strip()
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
            problems.append("CARI_CDS_CLIENTS: not valid JSON")
        if parsed is not None and not isinstance(parsed, list):
            problems.append("CARI_CDS_CLIENTS: expected a JSON array of clients")
        elif parsed is not None:
            clients = [c for n, item in enumerate(parsed)
                       if (c := _client(item, n, problems)) is not None]
    issuers = [c.iss for c in clients]
    if len(set(issuers)) != len(issuers):
        problems.append("CARI_CDS_CLIENTS: an iss is registered twice")
    return CdsSettings(
        cors_origins=origins, clients=tuple(clients),
        card_seconds=_whole(env, "CARI_CDS_CARD_SECONDS", 7 * 86_400, 60, 365 * 86_400,
                            problems),
        jwks_cache_seconds=_whole(env, "CARI_CDS_JWKS_CACHE_SECONDS", 300, 0, 86_400, problems),
        lab_lookback_hours=_whole(env, "CARI_CDS_LAB_LOOKBACK_HOURS", 168, 1, 24 * 366,
                                  problems),
        clients_by_iss={c.iss: c for c in clients})
