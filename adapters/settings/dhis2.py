"""``CARI_DHIS2_*`` settings: the DHIS2 instances the gateway may push to, and the mapping.

One instance::

    CARI_DHIS2_URL=https://dhis2.health.go.ke
    CARI_DHIS2_API_TOKEN=d2pat_...          # or CARI_DHIS2_USERNAME + CARI_DHIS2_PASSWORD

Several instances: name them in ``CARI_DHIS2_INSTANCES=ke,ke_training`` and give each its
``CARI_DHIS2_<NAME>_URL`` and ``_API_TOKEN`` (or ``_USERNAME`` and ``_PASSWORD``), the name
upper-cased. A push names its instance by URL (``dhis2_url``): only these URLs are accepted,
and their credentials never come from a request.

``CARI_DHIS2_MAPPING`` is the path of the country mapping file (see dhis2_mapping.py),
read and checked at start. Without it the DHIS2 routes answer that nothing is configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from adapters.settings.dhis2_mapping import load_mapping
from resolvers.public_health.model import Dhis2Mapping


@dataclass(frozen=True)
class Dhis2InstanceSettings:
    name: str
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    api_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Dhis2Settings:
    instances: tuple[Dhis2InstanceSettings, ...] = ()
    mapping_path: str = ""
    mapping: Dhis2Mapping | None = None
    # CARI_NATIONAL_DATASET_THRESHOLD: national dataset cells below it are suppressed
    suppression_threshold: int = 5


def _instance(env: Mapping[str, str], name: str, prefix: str,
              problems: list[str]) -> Dhis2InstanceSettings | None:
    def get(key: str) -> str:
        return env.get(f"{prefix}{key}", "").strip()

    url = get("URL").rstrip("/")
    if not url:
        problems.append(f"{prefix}URL: needed for DHIS2 instance {name!r}")
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"{prefix}URL={url!r}: expected an absolute http(s) URL")
    found = Dhis2InstanceSettings(name=name, url=url, username=get("USERNAME"),
                                  password=get("PASSWORD"), api_token=get("API_TOKEN"))
    if not found.api_token and not (found.username and found.password):
        problems.append(f"{prefix}API_TOKEN, or {prefix}USERNAME and {prefix}PASSWORD: "
                        f"DHIS2 instance {name!r} needs credentials")
    if found.api_token and not found.api_token.startswith("d2pat_"):
        problems.append(f"{prefix}API_TOKEN: expected a DHIS2 personal access token (d2pat_...)")
    return found


def load_dhis2_settings(env: Mapping[str, str], problems: list[str]) -> Dhis2Settings:
    instances: list[Dhis2InstanceSettings] = []
    if env.get("CARI_DHIS2_URL", "").strip():
        one = _instance(env, "default", "CARI_DHIS2_", problems)
        if one is not None:
            instances.append(one)
    for name in (n.strip() for n in env.get("CARI_DHIS2_INSTANCES", "").split(",")):
        if not name:
            continue
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
            problems.append(f"CARI_DHIS2_INSTANCES entry {name!r}: expected letters, digits, _")
            continue
        named = _instance(env, name, f"CARI_DHIS2_{name.upper()}_", problems)
        if named is not None:
            instances.append(named)
    urls = [i.url for i in instances]
    if len(set(urls)) != len(urls):
        problems.append("CARI_DHIS2_*_URL: two DHIS2 instances have the same URL")
    path = env.get("CARI_DHIS2_MAPPING", "").strip()
    mapping = load_mapping(path, problems) if path else None
    raw = env.get("CARI_NATIONAL_DATASET_THRESHOLD", "5").strip() or "5"
    threshold = int(raw) if raw.isdigit() else 0
    if not 1 <= threshold <= 1000:
        problems.append(f"CARI_NATIONAL_DATASET_THRESHOLD={raw!r}: expected a whole number "
                        "from 1 to 1000")
        threshold = 5
    return Dhis2Settings(instances=tuple(instances), mapping_path=path, mapping=mapping,
                         suppression_threshold=threshold)
