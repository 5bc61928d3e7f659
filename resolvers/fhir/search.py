"""Parse FHIR search parameters into a SearchRequest (types, prefixes, modifiers, paging)."""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.errors import InvalidInput
from resolvers.fhir.dates import date_range
from resolvers.fhir.model import Condition, DateBound, SearchRequest
from resolvers.fhir.search_params import params_of
from resolvers.input_rules import text_problem

DEFAULT_COUNT = 20
MAX_COUNT = 200
# Deeper pages than this are not served: an offset is a scan, and a huge one overflows the
# database's 64-bit integer (a 500 before this bound).
MAX_OFFSET = 1_000_000
# One search value (between commas). Names, identifiers and codes are far shorter; a longer
# LIKE pattern fails on SQLite ("pattern too complex") instead of matching nothing.
MAX_SEARCH_VALUE = 255  # the index columns hold 255: a longer value can never match
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
IGNORED = frozenset({"_format", "_pretty", "_summary", "_elements", "_total"})
SORTABLE = {"_id": "id", "_lastUpdated": "last_updated", "date": "sort_date",
            "birthdate": "sort_date"}


def _bad(message: str, param: str) -> InvalidInput:
    return InvalidInput(message, details=[{"field": param, "message": message}])


def _whole(raw: str, param: str, maximum: int) -> int:
    # isdigit() alone also accepts superscripts ("²") that int() refuses.
    if not (raw.isascii() and raw.isdigit()):
        raise _bad(f"{param} must be a whole number", param)
    if len(raw) > 12 or int(raw) > maximum:
        raise _bad(f"{param} must be at most {maximum}", param)
    return int(raw)


def _checked(key: str, raw: str) -> None:
    problem = text_problem(key, 128) or text_problem(raw)
    if problem:
        raise _bad(f"search parameter {key!r} {problem}", key)
    if any(len(v) > MAX_SEARCH_VALUE for v in raw.split(",")):
        raise _bad(f"{key}: a search value is longer than {MAX_SEARCH_VALUE} characters", key)


def _date_bound(param: str, raw: str) -> DateBound:
    prefix = raw[:2] if raw[:2] in DATE_PREFIXES else "eq"
    text = raw[2:] if raw[:2] in DATE_PREFIXES else raw
    found = date_range(text)
    if found is None:
        raise _bad(f"{param}: {raw!r} is not a FHIR date (e.g. 2024, 2024-03-01, ge2024-03-01)",
                   param)
    return DateBound(prefix, found[0], found[1])


def _token(raw: str) -> tuple[str | None, str | None]:
    """``sys|code``, ``|code`` (no system), ``sys|`` (any code), ``code`` (any system)."""
    if "|" not in raw:
        return None, raw
    system, code = raw.split("|", 1)
    return system, code or None


def parse_search(resource_type: str, pairs: Sequence[tuple[str, str]], *,
                 strict: bool = False) -> SearchRequest:
    known = params_of(resource_type)
    conditions: list[Condition] = []
    applied: list[tuple[str, str]] = []
    count, offset = DEFAULT_COUNT, 0
    sort: list[tuple[str, bool]] = []
    for key, raw in pairs:
        _checked(key, raw)
        name, _, modifier = key.partition(":")
        if name in IGNORED:
            continue
        if name == "_count":
            if not (raw.isascii() and raw.isdigit()):
                raise _bad("_count must be a whole number", "_count")
            count = min(int(raw), MAX_COUNT)  # a server may serve fewer than asked
            continue
        if name == "_offset":
            offset = _whole(raw, "_offset", MAX_OFFSET)
            continue
        if name == "_sort":
            for item in filter(None, raw.split(",")):
                column = SORTABLE.get(item.lstrip("-"))
                if column is None:
                    raise _bad(f"cannot sort by {item!r}; use one of {', '.join(SORTABLE)}",
                               "_sort")
                sort.append((column, item.startswith("-")))
            applied.append((key, raw))
            continue
        values = [v for v in raw.split(",") if v != ""]
        if not values:
            continue
        if name == "_id":
            # A FHIR id has at most 64 characters: a longer one names nothing (and would
            # overflow the id column's parameter on PostgreSQL).
            if any(len(v) > 64 for v in values):
                raise _bad("_id values are FHIR ids (at most 64 characters)", "_id")
            conditions.append(Condition("_id", "id", tuple(values)))
        elif name == "_lastUpdated":
            conditions.append(Condition("_lastUpdated", "lastUpdated",
                                        tuple(_date_bound(name, v) for v in values)))
        elif name in known:
            param = known[name]
            if param.kind == "date":
                parsed: tuple[object, ...] = tuple(_date_bound(name, v) for v in values)
            elif param.kind == "token":
                parsed = tuple(_token(v) for v in values)
            elif param.kind == "reference":
                parsed = tuple(v if "/" in v else f"{param.target}/{v}" if param.target else v
                               for v in values)
            else:
                if modifier not in ("", "exact", "contains"):
                    raise _bad(f"modifier :{modifier} is not supported on {name}", key)
                # Strings are indexed lower-cased: matching is case-insensitive, also :exact.
                parsed = tuple(v.lower() for v in values)
            if modifier and param.kind != "string":
                raise _bad(f"modifier :{modifier} is not supported on {name}", key)
            conditions.append(Condition(name, param.kind, parsed, modifier))
        else:
            if strict:
                raise _bad(f"unknown search parameter {key!r} for {resource_type}", key)
            continue  # lenient: ignored, and left out of the self link
        applied.append((key, raw))
    return SearchRequest(resource_type, tuple(conditions), tuple(sort) or (("id", False),),
                         count, offset, tuple(applied))
