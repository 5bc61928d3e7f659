"""Mutants of the official examples, each with the issue it must produce.

The elements to mutate and the expected verdicts come from the R4 StructureDefinitions
(``r4_spec.R4Package``), not from the validator's own compiled plans, so a wrong plan shows
up as a mutant that is not rejected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tools.r4_spec import R4Package, expanded_names

PRIMITIVE_TYPES = frozenset({
    "boolean", "integer", "unsignedInt", "positiveInt", "decimal", "string", "code", "id",
    "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "instant", "date",
    "dateTime", "time", "xhtml",
})
NUMBER_TYPES = frozenset({"integer", "unsignedInt", "positiveInt", "decimal"})
BAD_DATES = {
    "date": "2021-02-30",                 # no such day
    "dateTime": "2021-13-01T10:00:00Z",   # no such month
    "instant": "2021-01-01T10:00:00",     # no time zone
    "time": "25:00:00",
}
PER_EXAMPLE = 4  # mutants of one kind per example, to keep the corpus a few thousand strong


@dataclass(frozen=True)
class ElementDef:
    name: str               # JSON name
    type: str               # FHIR type of this name (value[x] expanded)
    is_list: bool
    required: bool
    choice: str | None      # "value" for value[x]
    children: str | None    # definition path of its children (complex types)
    binding: str | None     # required value set
    targets: tuple[str, ...] | None


@dataclass(frozen=True)
class Mutant:
    kind: str
    source: str            # example file name
    description: str
    resource: dict[str, Any]
    expression: str
    code: str
    severity: str = "error"


class Definitions:
    """The R4 element tree: definition path -> JSON name -> element."""

    def __init__(self, pkg: R4Package, types: tuple[str, ...]) -> None:
        tables = pkg.tables()
        self.value_sets: dict[str, dict[str, list[str]]] = tables["value_sets"]
        bindings: dict[str, str] = tables["bindings"]
        self.datatypes = set(pkg.datatypes())
        self.children: dict[str, dict[str, ElementDef]] = {}
        for type_name in (*types, *sorted(self.datatypes)):
            if type_name == "ElementDefinition":
                continue
            for e in pkg.elements(type_name):
                parent = e.path.rsplit(".", 1)[0]
                for json_path, t in expanded_names(e):
                    name = json_path.rsplit(".", 1)[1]
                    if e.content_reference:
                        children: str | None = e.content_reference.lstrip("#")
                        t = "BackboneElement"
                    elif t in ("BackboneElement", "Element"):
                        children = e.path
                    elif t in self.datatypes:
                        children = t
                    else:
                        children = None
                    self.children.setdefault(parent, {})[name] = ElementDef(
                        name=name, type=t, is_list=e.max != "1", required=e.min > 0,
                        choice=e.path.rsplit(".", 1)[1][:-3] if e.path.endswith("[x]") else None,
                        children=children, binding=bindings.get(json_path),
                        targets=tuple(e.targets.get("Reference", ())) or None)

    def objects(self, node: Any, def_path: str,
                expr: str) -> Iterator[tuple[dict[str, Any], str, str]]:
        """(object, definition path, FHIRPath) of ``node`` and every object inside it."""
        if not isinstance(node, dict):
            return
        yield node, def_path, expr
        for name, element in self.children.get(def_path, {}).items():
            if element.children is None or name not in node:
                continue
            value = node[name]
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield from self.objects(item, element.children, f"{expr}.{name}[{i}]")
            else:
                yield from self.objects(value, element.children, f"{expr}.{name}")


# ------------------------------------------------------------------ mutation helpers


def _at(resource: dict[str, Any], expr: str, base: str) -> dict[str, Any]:
    """The object at ``expr`` inside ``resource`` (whose FHIRPath is ``base``)."""
    node: Any = resource
    rest = expr[len(base):]
    for part in filter(None, rest.replace("[", ".[").split(".")):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    assert isinstance(node, dict)
    return node


def _mutate(resource: dict[str, Any], base: str, expr: str,
            change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    clone = copy.deepcopy(resource)
    change(_at(clone, expr, base))
    return clone


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(node: dict[str, Any]) -> None:
        node[key] = value
    return change


def _remove(key: str) -> Callable[[dict[str, Any]], None]:
    def change(node: dict[str, Any]) -> None:
        node.pop(key)
    return change


def _first_item(key: str) -> Callable[[dict[str, Any]], None]:
    def change(node: dict[str, Any]) -> None:
        node[key] = node[key][0]
    return change


def _wrong_value(element: ElementDef, value: Any) -> tuple[Any, str] | None:
    """A value of the wrong JSON type for this primitive, and the expected issue code."""
    if element.type == "boolean":
        return ("true" if value is True else "false"), "value"
    if element.type in NUMBER_TYPES:
        return str(value), "value"
    if element.type == "xhtml":
        return None
    return 42, "value"


# ------------------------------------------------------------------ the mutants


def mutants(defs: Definitions, source: str, resource: dict[str, Any],
            base: str | None = None) -> Iterator[Mutant]:
    """Every kind of mutant of one official example."""
    resource_type = resource["resourceType"]
    base = base or resource_type
    objects = list(defs.objects(resource, resource_type, base))
    counts: dict[str, int] = {}

    def budget(kind: str) -> bool:
        counts[kind] = counts.get(kind, 0) + 1
        return counts[kind] <= PER_EXAMPLE

    for node, def_path, expr in objects:
        elements = defs.children.get(def_path, {})
        for name, element in elements.items():
            sub = f"{expr}.{name}"
            if name not in node:
                continue
            value = node[name]
            # 1. a required element removed (a primitive's _extension would stand in for it)
            if (element.required and element.choice is None and f"_{name}" not in node
                    and budget("required-removed")):
                yield Mutant("required-removed", source, f"remove {sub}",
                             _mutate(resource, base, expr, _remove(name)),
                             sub, "required")
            # 2. wrong JSON types
            if element.type in PRIMITIVE_TYPES and not element.is_list:
                wrong = _wrong_value(element, value)
                if wrong is not None and budget("wrong-type"):
                    yield Mutant("wrong-type", source, f"{sub} = {wrong[0]!r}",
                                 _mutate(resource, base, expr,
                                         _set(name, wrong[0])),
                                 sub, wrong[1])
            elif element.children is not None and budget("wrong-shape"):
                if element.is_list and isinstance(value, list) and value:
                    yield Mutant("wrong-shape", source, f"{sub}: an object, not an array",
                                 _mutate(resource, base, expr,
                                         _first_item(name)),
                                 sub, "structure")
                elif not element.is_list:
                    yield Mutant("wrong-shape", source, f"{sub}: a string, not an object",
                                 _mutate(resource, base, expr,
                                         _set(name, "text")),
                                 sub, "structure")
            # 3. codes outside a required binding
            if element.binding is not None and budget("bad-code"):
                if element.type == "code" and isinstance(value, str):
                    yield Mutant("bad-code", source, f"{sub} = 'not-a-code'",
                                 _mutate(resource, base, expr,
                                         _set(name, "not-a-code")),
                                 sub, "code-invalid")
                elif element.type == "CodeableConcept" and isinstance(value, dict):
                    systems = defs.value_sets[element.binding]
                    for i, coding in enumerate(value.get("coding", [])):
                        if coding.get("system") in systems and "code" in coding:
                            yield Mutant(
                                "bad-code", source, f"{sub}.coding[{i}].code = 'bogus'",
                                _mutate(resource, base, f"{sub}.coding[{i}]",
                                        _set("code", "bogus")),
                                f"{sub}.coding[{i}].code", "code-invalid")
                            break
            # 4. bad dates
            if (element.type in BAD_DATES and not element.is_list and isinstance(value, str)
                    and budget("bad-date")):
                bad = BAD_DATES[element.type]
                yield Mutant("bad-date", source, f"{sub} = {bad!r}",
                             _mutate(resource, base, expr,
                                     _set(name, bad)),
                             sub, "value")
            # 5. references
            if element.type == "Reference" and not element.is_list and isinstance(value, dict):
                if "reference" in value and budget("malformed-reference"):
                    for bad_ref in ("Patient/", "not a reference", "Patinet/123"):
                        yield Mutant(
                            "malformed-reference", source, f"{sub}.reference = {bad_ref!r}",
                            _mutate(resource, base, sub,
                                    _set("reference", bad_ref)),
                            f"{sub}.reference", "value")
                if (element.targets and "Resource" not in element.targets
                        and "Basic" not in element.targets and budget("reference-target")):
                    yield Mutant("reference-target", source, f"{sub} -> Basic/1",
                                 _mutate(resource, base, sub,
                                         _set("reference", "Basic/1")),
                                 sub, "invalid", severity="warning")
            # 6. null and empty values
            if budget("null-or-empty"):
                yield Mutant("null-or-empty", source, f"{sub} = null",
                             _mutate(resource, base, expr,
                                     _set(name, None)),
                             sub, "structure")
                empty: Any = [] if element.is_list else (
                    {} if element.children or element.type == "Resource" else "")
                yield Mutant("null-or-empty", source, f"{sub} = {empty!r}",
                             _mutate(resource, base, expr,
                                     _set(name, empty)),
                             sub, "value" if empty == "" else "structure")
        # 7. unknown elements, at the resource and inside it
        if budget("unknown-element"):
            yield Mutant("unknown-element", source, f"{expr}.madeUpElement",
                         _mutate(resource, base, expr,
                                 _set("madeUpElement", "x")),
                         f"{expr}.madeUpElement", "structure")
        # 8. two types for one choice element
        for name, element in elements.items():
            if element.choice and name in node and budget("choice-conflict"):
                other = next((e for e in elements.values() if e.choice == element.choice
                              and e.name != name and e.type == "string"), None)
                other = other or next((e for e in elements.values() if e.choice == element.choice
                                       and e.name != name and e.type == "boolean"), None)
                if other is None:
                    continue
                extra: Any = "x" if other.type == "string" else True
                yield Mutant("choice-conflict", source, f"{expr}.{name} + {other.name}",
                             _mutate(resource, base, expr,
                                     _set(other.name, extra)),
                             f"{expr}.{element.choice}", "invalid")
                break


def bundle_mutants(defs: Definitions, source: str, bundle: dict[str, Any],
                   handled: frozenset[str]) -> Iterator[Mutant]:
    """Mutations of a Bundle's entries, reported at ``Bundle.entry[i].resource...``."""
    entries = bundle.get("entry", [])
    done = 0
    for i, entry in enumerate(entries):
        resource = entry.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") not in handled:
            continue
        base = f"Bundle.entry[{i}].resource"
        resource_type = resource["resourceType"]
        status = defs.children[resource_type].get("status")

        def in_entry(change: Callable[[dict[str, Any]], None], index: int = i) -> dict[str, Any]:
            clone = copy.deepcopy(bundle)
            change(clone["entry"][index]["resource"])
            return clone

        if status is not None and "status" in resource:
            if status.required:
                yield Mutant("bundle-entry", source, f"remove {base}.status",
                             in_entry(_remove("status")), f"{base}.status", "required")
            if status.binding is not None:
                yield Mutant("bundle-entry", source, f"{base}.status = 'bogus'",
                             in_entry(_set("status", "bogus")),
                             f"{base}.status", "code-invalid")
        yield Mutant("bundle-entry", source, f"{base}.madeUpElement",
                     in_entry(_set("madeUpElement", 1)),
                     f"{base}.madeUpElement", "structure")
        yield Mutant("bundle-entry", source, f"{base}.resourceType = 'Nope'",
                     in_entry(_set("resourceType", "Nope")),
                     f"{base}.resourceType", "structure")
        # and one mutant of every other kind, inside the entry
        for m in mutants(defs, source, resource, base):
            if m.kind in ("wrong-type", "bad-date", "malformed-reference"):
                clone = copy.deepcopy(bundle)
                clone["entry"][i]["resource"] = m.resource
                yield Mutant("bundle-entry", source, m.description, clone, m.expression, m.code,
                             m.severity)
                break
        done += 1
        if done >= PER_EXAMPLE:
            return
