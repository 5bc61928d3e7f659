"""Settings that map names to values: ``name=value,name2=value2`` or a JSON object."""

from __future__ import annotations

import json
from collections.abc import Mapping


def parse_pairs(raw: str, variable: str, value_name: str,
                problems: list[str]) -> list[tuple[str, str]]:
    """The (name, value) pairs of ``raw``; every malformed part is added to ``problems``
    (values are never echoed: they may be secrets)."""
    raw = raw.strip()
    if not raw:
        return []
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            problems.append(f"{variable}: not valid JSON; expected {{\"name\": \"{value_name}\", "
                            f"...}} or name={value_name},name2={value_name}2")
            return []
        if not isinstance(data, Mapping):
            problems.append(f"{variable}: expected a JSON object of name -> {value_name}")
            return []
        return [(str(k).strip(), v.strip() if isinstance(v, str) else "")
                for k, v in data.items()]
    pairs: list[tuple[str, str]] = []
    for entry in (e.strip() for e in raw.split(",") if e.strip()):
        name, sep, value = entry.partition("=")
        if not sep:
            problems.append(f"{variable} entry {name[:30]!r}: expected name={value_name}")
            continue
        pairs.append((name.strip(), value.strip()))
    return pairs
