"""Layer 1, the part pydantic does not see: a walk of the JSON along the compiled R4 element
tree (``plans.py``).

fhir.resources validates in pydantic's lax mode and checks required primitives and choice
groups in an after-validator, so on its own it

* coerces JSON types: ``"active": "true"``, ``"valueInteger": "5"``, ``5.0`` or ``true`` for an
  integer, a decimal given as a string, an integer for a dateTime, a JSON string holding an
  object for a complex element -- all accepted;
* accepts ``null`` for any element, empty objects and arrays, ``null`` inside primitive arrays
  without a matching ``_x`` entry, and Python field names next to the JSON names
  (``class_fhir``, ``status__ext``, ``fhir_comments``);
* stops at the first problem of a model's after-validator and skips it entirely once a field
  failed, so missing required primitives and choice conflicts go unreported next to any
  other problem;
* enforces no code set (``enum_values`` are informative), no reference format or target;
* accepts base64 that is not base64, URIs with spaces, ids over 64 characters, and rejects
  R4-valid uuids that are not version 4.

The walk covers exactly that; pydantic's errors cover the primitives' values (dates, times,
ids, codes' spelling, number ranges) and are translated in ``validator.py``. Reference
targets outside the element's R4 list are warnings: the official R4 examples break that rule
twice themselves (Observation-clinical-gender, MedicationRequest-medrx0301).

The checks of single values by datatype (primitives, Reference, Extension, Coding,
CodeableConcept) are in ``datatypes.py``; :class:`Walk` inherits them.
"""

from __future__ import annotations

from typing import Any

from fhir_core.fhirabstractmodel import FHIRAbstractModel

from adapters.fhir.datatypes import DatatypeChecks, describe, join_words
from adapters.fhir.plans import (
    COMPLEX,
    J_BOOL,
    J_DEC,
    J_INT,
    J_STR,
    PRIMITIVE,
    R4B_ONLY_ELEMENTS,
    RESOURCE,
    Field,
    Plan,
    element_plan,
    resource_plan,
)
from adapters.fhir.r4_definitions import RESOURCE_TYPES
from resolvers.fhir.issues import Issue

MAX_DEPTH = 64  # objects within objects; deeper input is refused, not recursed into


class Walk(DatatypeChecks):
    """One walk over one resource. Issues go to ``issues``; ``flagged`` holds the expressions
    the walk reported a shape problem at (pydantic's view of those is dropped), ``unsafe`` the
    resource slots pydantic must not see, ``deferred`` the values pydantic validates alone."""

    __slots__ = ("deferred", "too_deep", "unsafe")

    def __init__(self) -> None:
        super().__init__()
        self.unsafe: list[str] = []
        self.deferred: list[tuple[str, type[FHIRAbstractModel], Any]] = []
        self.too_deep = False

    # -------------------------------------------------------------- resources

    def resource(self, node: dict[str, Any], plan: Plan, expr: str) -> None:
        contained = node.get("contained")
        if isinstance(contained, list):
            self.contained_ids = frozenset(
                r["id"] for r in contained if isinstance(r, dict) and isinstance(r.get("id"), str))
        self.obj(node, plan, expr, None, 0)

    def resource_slot(self, value: Any, expr: str, depth: int) -> None:
        """A contained resource (or another Resource-typed element)."""
        if not isinstance(value, dict):
            self.error("structure", expr, f"{expr} must be a resource (a JSON object with a "
                                          f"resourceType), not {describe(value)}")
            self.unsafe.append(expr)
            return
        resource_type = value.get("resourceType")
        if not isinstance(resource_type, str):
            self.error("structure", expr, f"{expr} has no resourceType" if resource_type is None
                       else f"{expr}.resourceType must be a string, not {describe(resource_type)}")
            self.unsafe.append(expr)
            return
        if resource_type not in RESOURCE_TYPES:
            self.error("structure", expr + ".resourceType",
                       f'"{resource_type}" is not a FHIR R4 resource type')
            self.unsafe.append(expr)
            return
        plan = resource_plan(resource_type)
        if plan is None:
            self.issues.append(Issue(
                "warning", "not-supported", f"{expr}: {resource_type} is defined differently in "
                "the R4B models this validator uses, so its content was not checked", expr))
            self.unsafe.append(expr)
            return
        self.obj(value, plan, expr, None, depth + 1)

    # -------------------------------------------------------------- elements

    def obj(self, node: dict[str, Any], plan: Plan, expr: str, owner: Field | None,
            depth: int) -> None:
        if depth > MAX_DEPTH:
            if not self.too_deep:
                self.error("structure", expr, f"the resource is nested more than {MAX_DEPTH} "
                                              "levels deep here; the rest was not checked")
            self.too_deep = True
            return
        if not node:
            self.error("structure", expr, f"{expr} is an empty object; leave the element out "
                                          "instead")
        fields = plan.fields
        seen_choices: list[Field] | None = None
        for key, value in node.items():
            f = fields.get(key)
            if f is None:
                if key == "resourceType" and plan.is_resource:
                    continue
                if isinstance(key, str) and key[:1] == "_" and key in plan.extensions:
                    self.primitive_extension(node, key, value, plan.extensions[key], expr, depth)
                    continue
                self.unknown(key, value, plan, expr)
                continue
            if f.choice is not None:
                if seen_choices is None:
                    seen_choices = [f]
                else:
                    seen_choices.append(f)
            sub = f"{expr}.{key}"
            if value is None:
                self.error("structure", sub, f"{sub} is null; leave the element out instead")
                continue
            if f.deferred is not None:
                self.deferred.append((sub, f.deferred, value))
            if f.is_list:
                if type(value) is not list:
                    self.error("structure", sub, f"{sub} must be an array, not {describe(value)}")
                    continue
                if not value:
                    self.error("structure", sub, f"{sub} is an empty array; leave the element "
                                                 "out instead")
                    continue
                if f.kind == PRIMITIVE:
                    self.primitive_list(node, f, value, sub)
                    continue
                for i, item in enumerate(value):
                    self.value(f, item, f"{sub}[{i}]", depth)
            else:
                t = type(value)
                if f.kind == PRIMITIVE:  # the common cases first, without a call
                    j = f.json
                    if t is str:
                        if j == J_STR and value and f.check is None:
                            continue
                    elif (t is bool and j == J_BOOL) or (t is int and j >= J_INT) or (
                            t is float and j == J_DEC):
                        continue
                elif t is dict and f.kind == COMPLEX:
                    self.obj(value, f.plan, sub, f, depth + 1)  # type: ignore[arg-type]
                    continue
                if t is list:
                    self.error("structure", sub, f"{sub} must be a single value, not an array")
                    continue
                self.value(f, value, sub, depth)
        for f in plan.required:
            if f.name not in node and not (f.kind == PRIMITIVE and "_" + f.name in node):
                self.error("required", f"{expr}.{f.name}",
                           f"{expr}.{f.name} is required but missing")
        for group in plan.required_choices:
            if not any(n in node or "_" + n in node for n in plan.choices[group]):
                self.error("required", f"{expr}.{group}",
                           f"{expr}.{group} is required: give one of "
                           f"{join_words(plan.choices[group])}")
        if seen_choices is not None and len(seen_choices) > 1:
            self.choice_conflicts(seen_choices, expr)
        if plan.special:
            self.special(node, plan, expr, owner)

    def value(self, f: Field, value: Any, expr: str, depth: int) -> None:
        kind = f.kind
        if kind == COMPLEX:
            if type(value) is dict:
                self.obj(value, f.plan, expr, f, depth + 1)  # type: ignore[arg-type]
            elif value is None:
                self.error("structure", expr, f"{expr} is null; leave it out instead")
            else:
                self.error("structure", expr, f"{expr} must be a JSON object ({f.fhir_type}), "
                                              f"not {describe(value)}")
        elif kind == PRIMITIVE:
            self.primitive(f, value, expr)
        elif kind == RESOURCE:
            self.resource_slot(value, expr, depth)
        # SKIP: Bundle.entry.resource, validated as a resource of its own

    def primitive_extension(self, node: dict[str, Any], key: str, value: Any, f: Field,
                            expr: str, depth: int) -> None:
        sub = f"{expr}.{key[1:]}"
        if f.deferred is not None and value is not None:
            self.deferred.append((sub, f.deferred, value))
        element = element_plan()
        if f.is_list:
            if type(value) is not list:
                self.error("structure", sub, f"{expr}.{key} must be an array, not "
                                             f"{describe(value)}")
                return
            values = node.get(key[1:])
            if type(values) is list and len(values) != len(value):
                self.error("structure", sub, f"{expr}.{key} has {len(value)} entries but "
                                             f"{sub} has {len(values)}")
            for i, item in enumerate(value):
                if item is None:
                    continue
                if type(item) is not dict:
                    self.error("structure", f"{sub}[{i}]", f"{expr}.{key}[{i}] must be an object "
                                                           f"with id or extension, not "
                                                           f"{describe(item)}")
                    continue
                self.obj(item, element, f"{sub}[{i}]", None, depth + 1)
            return
        if type(value) is not dict:
            self.error("structure", sub, f"{expr}.{key} must be an object with id or "
                                         f"extension, not {describe(value)}")
            return
        self.obj(value, element, sub, None, depth + 1)

    def unknown(self, key: Any, value: Any, plan: Plan, expr: str) -> None:
        name = key if isinstance(key, str) else repr(key)
        sub = f"{expr}.{name}"
        hint = ""
        stem = name[1:] if name.startswith("_") else name
        if stem.endswith("__ext"):
            hint = f' (write "_{stem[:-5]}")'
        elif stem.endswith("_fhir") and stem[:-5] in plan.fields:
            hint = f' (write "{stem[:-5]}")'
        elif name in R4B_ONLY_ELEMENTS.get(plan.name, ()):
            hint = " (it exists in R4B, not in R4)"
        where = plan.path
        self.error("structure", sub, f'Unknown element "{name}" in {where}: it is not part of '
                                     f"FHIR R4{hint}")

    def choice_conflicts(self, seen: list[Field], expr: str) -> None:
        groups: dict[str, list[str]] = {}
        for f in seen:
            groups.setdefault(f.choice or "", []).append(f.name)
        for group, names in groups.items():
            if len(names) > 1:
                self.error("invalid", f"{expr}.{group}",
                           f"{expr}.{group}[x] takes one type only, got {join_words(names)}")
