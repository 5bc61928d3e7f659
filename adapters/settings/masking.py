"""Settings as an operator may see them: every secret masked.

A value is masked when its name (the field, or a mapping key) contains secret, token, key or
password; a URL shows without its userinfo (``https://user:pass@host`` -> ``https://***@host``)
and a ``(name, secret)`` pair shows its name only. Booleans and numbers are shown as they are
(a flag is no secret). Names are the settings' dotted field names (``hie.overrides.KE``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.settings import Settings
from resolvers.operations.health.model import SettingView

MASK = "••••••"
SECRET_NAME = re.compile(r"secret|token|key|password|passwd|credential|phone", re.IGNORECASE)
# Names that hold no secret though they contain one of the words.
NOT_SECRET = frozenset({"token_issuer", "token_audience", "local_signing_key"})


def _without_userinfo(text: str) -> str:
    if "://" not in text or "@" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    if parts.username is None and parts.password is None:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def masked_value(name: str, value: Any) -> str:
    leaf = name.rsplit(".", 1)[-1]
    secret = bool(SECRET_NAME.search(leaf)) and leaf not in NOT_SECRET
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return MASK if value else ""
    if isinstance(value, str):
        if secret:
            return MASK if value else ""
        return _without_userinfo(value)
    if isinstance(value, tuple | list):
        return ", ".join(masked_value(name, item) for item in value)
    return MASK if secret else _without_userinfo(str(value))


def _walk(prefix: str, value: Any, out: list[SettingView]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            _walk(f"{prefix}.{item.name}" if prefix else item.name,
                  getattr(value, item.name), out)
    elif isinstance(value, Mapping):
        for key in sorted(value, key=str):
            _walk(f"{prefix}.{key}", value[key], out)
    elif (isinstance(value, tuple) and value and all(isinstance(item, tuple) and len(item) == 2
                                                     for item in value)):
        # (name, secret) pairs, e.g. CARI_LEAD_SOURCES: the names, never the secrets
        out.append(SettingView(prefix, ", ".join(f"{item[0]}={MASK}" for item in value)))
    elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        for index, item in enumerate(value):
            _walk(f"{prefix}[{index}]", item, out)
    else:
        out.append(SettingView(prefix, masked_value(prefix, value)))


def masked_settings(settings: Settings) -> list[SettingView]:
    found: list[SettingView] = []
    _walk("", dataclasses.replace(settings, extra={}), found)
    # Extensions' own settings: names only, their meaning is unknown here.
    found.extend(SettingView(f"extra.{name}", MASK) for name in sorted(settings.extra))
    return found
