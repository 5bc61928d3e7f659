"""The console's languages: one JSON file of flat keys per language under ``locales/``.

A language is any ``locales/<code>.json`` (``en`` and ``fr`` today; Portuguese or Swahili is
one more file with the same keys). The operator's choice is a cookie set by the language
switch; without it, the browser's Accept-Language; English otherwise. A key missing from a
language falls back to English, and a key missing from English shows itself, so a gap is
visible rather than blank.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request

FALLBACK = "en"
LANGUAGE_COOKIE = "cari_console_lang"


@functools.cache
def catalogues() -> Mapping[str, Mapping[str, str]]:
    """Every locales/*.json, read once (at the first page, not at import)."""
    found: dict[str, Mapping[str, str]] = {}
    for entry in resources.files("rest_compat.console").joinpath("locales").iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return found


def languages() -> list[tuple[str, str]]:
    """(code, the language's own name) for the switch, English first."""
    names = {code: table.get("language.name", code) for code, table in catalogues().items()}
    return sorted(names.items(), key=lambda item: (item[0] != FALLBACK, item[0]))


def _from_accept_language(header: str) -> str | None:
    weighted: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower().split("-")[0]))
    for _quality, code in sorted(weighted, key=lambda item: -item[0]):
        if code in catalogues():
            return code
    return None


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in catalogues():
        return chosen
    return _from_accept_language(request.headers.get("accept-language", "")) or FALLBACK


@dataclass(frozen=True)
class Translator:
    language: str

    def __call__(self, key: str, **params: object) -> str:
        tables = catalogues()
        text = tables.get(self.language, {}).get(key) or tables[FALLBACK].get(key) or key
        return text.format(**params) if params else text
