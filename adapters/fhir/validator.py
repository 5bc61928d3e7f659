"""FHIR R4 validation: the ``ResourceValidator`` port (resolvers/fhir/ports.py).

``FhirValidator().validate(resource, path=None)`` returns every problem as an
:class:`~resolvers.fhir.issues.Issue`, never raises for bad input, and an empty list means
valid. Two layers:

1. **Structure** against the R4 definitions: ``model_validate`` of the fhir.resources
   ``R4B`` model, whose pydantic errors are translated here, plus the walk of
   ``structure.py`` (with the datatype checks of ``datatypes.py``) for everything pydantic
   lets through (JSON types, nulls, empty values, required primitives and choice groups
   next to other errors, required-binding codes, reference format and targets). R4B is
   corrected to R4 where the two differ: the list of differences and how each is handled
   is in ``plans.py``.
2. **Rules** of the gateway: ``resolvers/fhir/rules.py`` (pure functions over the JSON).

Issue codes (severity ``error`` unless said otherwise):

* ``structure``: unknown element, wrong JSON shape (object / array / single value),
  ``null``, empty object or array, missing or unknown ``resourceType``;
* ``required``: a required element (or choice group) is missing;
* ``value``: a primitive with the wrong JSON type (``"true"`` for a boolean, ``"5"`` for an
  integer) or a bad value: dates, times, ids, the spelling of codes, numbers out of range,
  base64, uuids, URIs with spaces, malformed references;
* ``code-invalid``: a code outside a required binding (status, intent, gender, use, ...);
* ``invalid``: anything else -- two types for one choice element, a reference to a missing
  contained resource (ref-1) or whose ``type`` contradicts it, ext-1, the Bundle entry rules;
  and, as a **warning**, a reference to a resource type the element does not allow in R4;
* ``not-supported``: a valid R4 resource type the gateway does not handle -- an error for
  the resource itself, a warning for a Bundle entry or a contained resource (not checked);
* ``exception`` (fatal): the validator itself failed; never expected, logged without data.

``expression`` is the FHIRPath of the element, with JSON names: ``Observation.subject``,
``Patient.name[0].given[1]``, ``Observation.valueQuantity`` (a choice element under its typed
name), ``Bundle.entry[2].resource.status``; a primitive's ``_x`` extension is reported at the
primitive (``Observation.status.extension[0].url``). Diagnostics repeat it in plain words.

Bundles: the Bundle is validated without its entries' resources, then each
``entry[i].resource`` as a resource of its own at ``Bundle.entry[i].resource`` (both layers).

Not checked: profiles (``meta.profile``), FHIRPath invariants other than ext-1 and ref-1,
extensible and preferred bindings, the required bindings to mime types and currencies (not
enumerable offline, see ``r4_definitions.UNENFORCED_BINDINGS``), whether references resolve
(except ``#contained`` ones). Layer 2 does not apply to contained resources.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import ValidationError

from adapters.fhir.datatypes import describe
from adapters.fhir.plans import (
    COMPLEX,
    OWN_FORMAT_ONLY,
    PRIMITIVE,
    RESOURCE,
    Field,
    Plan,
    element_plan,
    plan_for,
    resource_plan,
)
from adapters.fhir.r4_definitions import RESOURCE_TYPES
from adapters.fhir.structure import Walk
from resolvers.fhir import rules
from resolvers.fhir.issues import SUPPORTED_TYPES, VALIDATE_ONLY_TYPES, Issue

log = logging.getLogger(__name__)

HANDLED_TYPES: frozenset[str] = frozenset(SUPPORTED_TYPES + VALIDATE_ONLY_TYPES)
MAX_BUNDLE_NESTING = 8
_PLACEHOLDER: dict[str, Any] = {"resourceType": "Parameters"}  # keeps list indices stable
_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_DROPPED_ERRORS = frozenset({"extra_forbidden", "missing", "model_field_validation.missing"})
_HINTS = {
    "date": "YYYY, YYYY-MM or YYYY-MM-DD, a real date",
    "dateTime": "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone, "
                "a real date and time",
    "instant": "YYYY-MM-DDThh:mm:ss(.sss) with a time zone",
    "time": "hh:mm:ss, without a time zone",
    "code": "no leading, trailing or repeated spaces",
    "id": "1 to 64 letters, digits, '-' or '.'",
    "integer": "a whole number from -2147483648 to 2147483647",
    "unsignedInt": "a whole number from 0 to 2147483647",
    "positiveInt": "a whole number from 1 to 2147483647",
    "decimal": "a finite decimal number",
    "oid": "urn:oid: followed by digits and dots",
    "string": "not empty",
    "markdown": "not empty",
}


class FhirValidator:
    """FHIR R4 validation of the gateway's resource types (see the module docstring).

    ``rules=False`` checks the structure only (layer 1). Model classes and their compiled
    plans are cached per process, so instances are cheap; :meth:`warm_up` compiles them
    ahead of the first request.
    """

    def __init__(self, *, rules: bool = True) -> None:
        self._rules = rules

    @staticmethod
    def warm_up(types: tuple[str, ...] | None = None) -> None:
        for resource_type in types or tuple(sorted(HANDLED_TYPES)):
            resource_plan(resource_type)

    def validate(self, resource: Any, *, path: str | None = None) -> list[Issue]:
        try:
            return self._validate(resource, path, nested=False, depth=0)
        except Exception as exc:  # never raise for bad input
            log.warning("FHIR validation failed internally: %s", type(exc).__name__)
            return [Issue("fatal", "exception", "the validator could not process this input "
                          f"({type(exc).__name__})", path)]

    # ------------------------------------------------------------------ internals

    def _validate(self, resource: Any, path: str | None, *, nested: bool,
                  depth: int) -> list[Issue]:
        if not isinstance(resource, dict):
            return [Issue("error", "structure", f"expected a FHIR resource (a JSON object with "
                          f"a resourceType), got {describe(resource)}", path)]
        resource_type = resource.get("resourceType")
        if resource_type is None:
            return [Issue("error", "structure", "the resourceType is missing", path)]
        if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
            shown = (f'"{resource_type}"' if isinstance(resource_type, str)
                     else describe(resource_type))
            return [Issue("error", "structure", f"{shown} is not a FHIR R4 resource type",
                          f"{path}.resourceType" if path else None)]
        base = path or resource_type
        plan = resource_plan(resource_type) if resource_type in HANDLED_TYPES else None
        if plan is None:
            if nested:
                return [Issue("warning", "not-supported", f"{resource_type} resources are not "
                              "validated by this gateway; the entry was not checked", base)]
            return [Issue("error", "not-supported", f"{resource_type} resources are not handled "
                          f"by this gateway (it handles {', '.join(sorted(HANDLED_TYPES))})",
                          base)]
        walk = Walk()
        walk.resource(resource, plan, base)
        issues = walk.issues
        if not walk.too_deep:
            data = _for_pydantic(resource, base, walk.unsafe, resource_type == "Bundle")
            issues += _pydantic_issues(plan, data, base, walk)
            for expr, model, value in walk.deferred:
                for i, item in _items(value):
                    sub = expr if i is None else f"{expr}[{i}]"
                    if isinstance(item, dict):
                        issues += _pydantic_issues(plan_for(model), item, sub, walk)
        if resource_type == "Bundle":
            issues += self._entries(resource, base, depth)
        if self._rules:
            known = {(i.expression, i.code) for i in issues}
            issues += [i for i in rules.check(resource, base)
                       if (i.expression, i.code) not in known]
        return issues

    def _entries(self, bundle: dict[str, Any], base: str, depth: int) -> list[Issue]:
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            return []
        if depth >= MAX_BUNDLE_NESTING:
            return [Issue("error", "structure", f"Bundles nested more than {MAX_BUNDLE_NESTING} "
                          "deep are not validated", f"{base}.entry")]
        issues: list[Issue] = []
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and "resource" in entry:
                issues += self._validate(entry["resource"], f"{base}.entry[{i}].resource",
                                         nested=True, depth=depth + 1)
        return issues


def _items(value: Any) -> list[tuple[int | None, Any]]:
    if isinstance(value, list):
        return list(enumerate(value))
    return [(None, value)]


# ------------------------------------------------------------------ what pydantic sees


def _for_pydantic(resource: dict[str, Any], base: str, unsafe: list[str],
                  bundle: bool) -> dict[str, Any]:
    """The resource without what fhir.resources must not see: Bundle entry resources
    (validated on their own) and resources it cannot validate as R4 (or would crash on)."""
    paths: list[tuple[str | int, ...]] = [_segments(e[len(base):]) for e in unsafe]
    if bundle and isinstance(resource.get("entry"), list):
        paths += [("entry", i, "resource") for i, e in enumerate(resource["entry"])
                  if isinstance(e, dict) and "resource" in e]
    if not paths:
        return resource
    trie: dict[Any, Any] = {}
    for segments in paths:
        node = trie
        for seg in segments[:-1]:
            child = node.setdefault(seg, {})
            if child is None:
                break
            node = child
        else:
            node[segments[-1]] = None
    pruned = _prune(resource, trie)
    assert isinstance(pruned, dict)
    return pruned


def _segments(relative: str) -> tuple[str | int, ...]:
    return tuple(m.group(1) if m.group(1) is not None else int(m.group(2))
                 for m in _SEGMENT.finditer(relative))


def _prune(node: Any, trie: dict[Any, Any]) -> Any:
    if isinstance(node, dict):
        out = dict(node)
        for key, sub in trie.items():
            if key in out:
                if sub is None:
                    del out[key]
                else:
                    out[key] = _prune(out[key], sub)
        return out
    if isinstance(node, list):
        items = list(node)
        for index, sub in trie.items():
            if isinstance(index, int) and 0 <= index < len(items):
                items[index] = _PLACEHOLDER if sub is None else _prune(items[index], sub)
        return items
    return node


def _pydantic_issues(plan: Plan, data: dict[str, Any], base: str, walk: Walk) -> list[Issue]:
    try:
        plan.model.model_validate(data)
    except ValidationError as exc:
        return _translate(exc, plan, data, base, walk.flagged)
    except Exception as exc:  # fhir.resources chokes on input the walk has reported
        if not any(i.severity == "error" for i in walk.issues):
            log.warning("fhir.resources failed on a resource: %s", type(exc).__name__)
            return [Issue("fatal", "exception", f"{base} could not be parsed by the FHIR "
                          f"models ({type(exc).__name__})", base)]
    return []


def _translate(exc: ValidationError, plan: Plan, data: dict[str, Any], base: str,
               flagged: set[str]) -> list[Issue]:
    out: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        kind = err["type"]
        if kind in _DROPPED_ERRORS:  # the walk reports unknown and missing elements itself
            continue
        if kind == "list_type" and "None is not allowed" in err["msg"]:
            continue  # nulls in arrays: reported by the walk, item by item
        expr, leaf = _resolve(err["loc"], plan, data, base)
        if leaf is None and kind == "value_error" and "field value" in err["msg"]:
            continue  # a choice group conflict, reported by the walk
        if _covered(expr, flagged) or (leaf is not None and leaf.fhir_type in OWN_FORMAT_ONLY):
            continue
        code = "value" if leaf is not None else "structure"
        if (expr, code) in seen:
            continue
        seen.add((expr, code))
        out.append(Issue("error", code, _message(err, leaf, expr), expr))
    return out


def _covered(expr: str, flagged: set[str]) -> bool:
    """True when the walk reported ``expr`` or an element containing it."""
    if not flagged:
        return False
    if expr in flagged:
        return True
    for i, ch in enumerate(expr):
        if (ch == "." or ch == "[") and expr[:i] in flagged:
            return True
    return False


def _resolve(loc: tuple[int | str, ...], plan: Plan, data: Any,
             base: str) -> tuple[str, Field | None]:
    """A pydantic error location as a FHIRPath expression, and the primitive it names."""
    expr = base
    current: Plan | None = plan
    value: Any = data
    pending: Field | None = None
    leaf: Field | None = None
    for seg in loc:
        if isinstance(seg, int):
            expr += f"[{seg}]"
            value = value[seg] if isinstance(value, list) and 0 <= seg < len(value) else None
            continue
        if seg == "root":
            continue
        if pending is not None and pending.kind == RESOURCE:
            rt = value.get("resourceType") if isinstance(value, dict) else None
            current = resource_plan(rt) if isinstance(rt, str) else None
        pending = None
        leaf = None
        name = seg  # pydantic names the key the input used (alias or field name)
        f = current.fields.get(name) if current is not None else None
        value = value.get(seg) if isinstance(value, dict) else None
        if f is not None:
            expr += "." + f.name
            pending = f
            if f.kind == COMPLEX:
                current = f.plan
            elif f.kind == PRIMITIVE:
                current, leaf = None, f
            else:
                current = None
        elif current is not None and name in current.extensions:
            expr += "." + name[1:]
            current = element_plan()
        else:
            expr += "." + name
            current = None
    return expr, leaf


def _message(err: Any, leaf: Field | None, expr: str) -> str:
    detail = str(err["msg"]).removeprefix("Value error, ").strip()
    if "does not match spec regex" in detail or "should match pattern" in detail:
        detail = ""
    if leaf is not None:
        hint = _HINTS.get(leaf.fhir_type)
        text = f"{expr}: {describe(err.get('input'))} is not a valid {leaf.fhir_type}"
        if hint:
            text += f" (expected {hint})"
        if detail and not detail.startswith("Input should be a valid"):
            text += f": {detail}"
        elif detail.startswith("Input should be a valid") and ", " in detail:
            text += f": {detail.split(', ', 1)[1]}"
        return text
    return f"{expr}: {detail or 'invalid value'}"
