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
"""

from __future__ import annotations

import re
import typing
from typing import Any

from fhir_core.fhirabstractmodel import FHIRAbstractModel

from adapters.fhir.plans import (
    COMPLEX,
    J_BOOL,
    J_DEC,
    J_INT,
    J_STR,
    JSON_WORDS,
    PRIMITIVE,
    R4B_ONLY_ELEMENTS,
    RESOURCE,
    UUID_FORMAT,
    Field,
    Plan,
    element_plan,
    resource_plan,
)
from adapters.fhir.r4_definitions import RESOURCE_TYPES
from resolvers.fhir.issues import Issue

MAX_DEPTH = 64  # objects within objects; deeper input is refused, not recursed into

# Reference.reference forms
_ID = r"[A-Za-z0-9\-.]{1,64}"
RELATIVE_REF = re.compile(rf"([A-Z][A-Za-z]+)/{_ID}(/_history/{_ID})?")
CONDITIONAL_REF = re.compile(r"([A-Z][A-Za-z]+)\?\S+")  # in transactions
ABSOLUTE_REF = re.compile(rf"[a-z][a-z0-9+.\-]*://\S*?/([A-Z][A-Za-z]+)/{_ID}(/_history/{_ID})?")
ABSOLUTE_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:\S+")
OID_REF = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")


# ------------------------------------------------------------------ the walk


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f'the string "{shown}"'
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _join(words: typing.Iterable[str]) -> str:
    items = sorted(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


class Walk:
    """One walk over one resource. Issues go to ``issues``; ``flagged`` holds the expressions
    the walk reported a shape problem at (pydantic's view of those is dropped), ``unsafe`` the
    resource slots pydantic must not see, ``deferred`` the values pydantic validates alone."""

    __slots__ = ("contained_ids", "deferred", "flagged", "issues", "too_deep", "unsafe")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.flagged: set[str] = set()
        self.unsafe: list[str] = []
        self.deferred: list[tuple[str, type[FHIRAbstractModel], Any]] = []
        self.contained_ids: frozenset[str] = frozenset()
        self.too_deep = False

    def error(self, code: str, expr: str, text: str) -> None:
        self.issues.append(Issue("error", code, text, expr))
        self.flagged.add(expr)

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
                           f"{_join(plan.choices[group])}")
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

    def primitive(self, f: Field, value: Any, expr: str) -> None:
        j = f.json
        t = type(value)
        if j == J_STR:
            ok = t is str
        elif j == J_BOOL:
            ok = t is bool
        elif j == J_INT:
            ok = t is int
        else:
            ok = t is int or t is float
        if not ok:
            if t is dict or t is list:
                self.error("structure", expr, f"{expr} must be a single {f.fhir_type} value, not "
                                              f"{describe(value)}")
            else:
                self.error("value", expr, f"{expr} must be {JSON_WORDS[j]} ({f.fhir_type}), not "
                                          f"{describe(value)}")
            return
        if j != J_STR:
            return
        if not value:
            self.error("value", expr, f"{expr} is an empty string; leave the element out instead")
            return
        check = f.check
        if check is not None and not check(value):
            self.error("value", expr, f"{expr}: {describe(value)} is not a valid {f.fhir_type}"
                                      f"{_FORMAT_HINTS.get(f.fhir_type, '')}")
            return
        if f.codes is not None and value not in f.codes:
            self.issues.append(Issue(
                "error", "code-invalid", f'"{value}" is not a valid code for {expr}: expected '
                f"{_join(f.codes)} (required binding to {f.value_set})", expr))

    def primitive_list(self, node: dict[str, Any], f: Field, values: list[Any],
                       expr: str) -> None:
        extensions = node.get("_" + f.name)
        ext_list = extensions if type(extensions) is list else None
        fast = f.json == J_STR and f.check is None
        for i, item in enumerate(values):
            if fast and type(item) is str and item:
                continue
            sub = f"{expr}[{i}]"
            if item is None:
                if ext_list is None or i >= len(ext_list) or ext_list[i] is None:
                    self.error("structure", sub, f"{sub} is null without an extension in "
                                                 f"_{f.name}[{i}]")
                continue
            self.primitive(f, item, sub)

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
                           f"{expr}.{group}[x] takes one type only, got {_join(names)}")

    # -------------------------------------------------------------- datatype checks

    def special(self, node: dict[str, Any], plan: Plan, expr: str, owner: Field | None) -> None:
        kind = plan.special
        if kind == "Reference":
            self.reference(node, expr, owner.targets if owner is not None else None)
        elif kind == "Extension":
            has_value = any(k.startswith(("value", "_value")) for k in node if isinstance(k, str))
            nested = node.get("extension")
            if has_value and nested:
                self.error("invalid", expr, f"{expr} has both a value and nested extensions; "
                                            "an extension has one or the other (ext-1)")
            elif not has_value and not nested and "url" in node:
                self.error("invalid", expr, f"{expr} has neither a value nor nested extensions "
                                            "(ext-1)")
        elif owner is not None and owner.coded is not None:
            if kind == "Coding":
                self.coding(node, owner, expr)
            elif kind == "CodeableConcept":
                self.codeable_concept(node, owner, expr)

    def coding(self, node: dict[str, Any], owner: Field, expr: str) -> None:
        assert owner.coded is not None
        system, code = node.get("system"), node.get("code")
        codes = owner.coded.get(system) if isinstance(system, str) else None
        if codes is None:
            self.issues.append(Issue(
                "error", "code-invalid", f"{expr}: the system must be one of "
                f"{_join(owner.coded)} (required binding to {owner.value_set}), not "
                f"{describe(system)}", f"{expr}.system"))
        elif isinstance(code, str) and code not in codes:
            self.issues.append(Issue(
                "error", "code-invalid", f'"{code}" is not a valid code of {system} for '
                f"{expr}: expected {_join(codes)}", f"{expr}.code"))

    def codeable_concept(self, node: dict[str, Any], owner: Field, expr: str) -> None:
        assert owner.coded is not None
        codings = node.get("coding")
        matched = False
        if type(codings) is list:
            for i, c in enumerate(codings):
                if type(c) is not dict:
                    continue
                system, code = c.get("system"), c.get("code")
                codes = owner.coded.get(system) if isinstance(system, str) else None
                if codes is None:
                    continue
                if isinstance(code, str) and code not in codes:
                    self.issues.append(Issue(
                        "error", "code-invalid", f'"{code}" is not a valid code of {system} '
                        f"for {expr}: expected {_join(codes)}", f"{expr}.coding[{i}].code"))
                    return
                matched = True
        if not matched:
            wanted = "; ".join(f"{s}: {_join(c)}" for s, c in owner.coded.items())
            self.issues.append(Issue(
                "error", "code-invalid", f"{expr} needs a coding from the required value set "
                f"{owner.value_set} ({wanted})", expr))

    def reference(self, node: dict[str, Any], expr: str, targets: frozenset[str] | None) -> None:
        ref = node.get("reference")
        ref_type: str | None = None
        if isinstance(ref, str) and ref:
            sub = f"{expr}.reference"
            if ref[0] == "#":
                if len(ref) > 1 and ref[1:] not in self.contained_ids:
                    self.error("invalid", sub, f'{sub} "{ref}" points to a contained resource '
                                               "that does not exist (ref-1)")
                return
            if ref.startswith("urn:uuid:"):
                if not UUID_FORMAT.fullmatch(ref):
                    self.error("value", sub, f'{sub} "{ref}" is not a valid urn:uuid '
                                             "(lower-case hexadecimal 8-4-4-4-12)")
            elif ref.startswith("urn:oid:"):
                if not OID_REF.fullmatch(ref):
                    self.error("value", sub, f'{sub} "{ref}" is not a valid urn:oid')
            elif (m := RELATIVE_REF.fullmatch(ref)) or (m := CONDITIONAL_REF.fullmatch(ref)):
                ref_type = m.group(1)
                if ref_type not in RESOURCE_TYPES:
                    self.error("value", sub, f'{sub} "{ref}": "{ref_type}" is not a FHIR R4 '
                                             "resource type")
                    return
            elif ABSOLUTE_URI.fullmatch(ref):
                if (m := ABSOLUTE_REF.fullmatch(ref)) and m.group(1) in RESOURCE_TYPES:
                    ref_type = m.group(1)
            else:
                self.error("value", sub, f'{sub} "{ref}" is not a valid reference: expected '
                                         '"Type/id", an absolute URL, "urn:uuid:..." or '
                                         '"#contained-id"')
                return
        declared = node.get("type")
        if isinstance(declared, str) and declared in RESOURCE_TYPES:
            if ref_type is not None and ref_type != declared:
                self.error("invalid", f"{expr}.type", f"{expr}.type says {declared} but the "
                                                      f"reference points to a {ref_type}")
                return
            ref_type = ref_type or declared
        if (ref_type is not None and targets is not None and ref_type not in targets
                and "Resource" not in targets):
            # A warning: the official R4 examples break this twice themselves
            # (Observation-clinical-gender, MedicationRequest-medrx0301).
            self.issues.append(Issue(
                "warning", "invalid", f"{expr} may refer to {_join(targets)}, not {ref_type}",
                expr))


_FORMAT_HINTS = {
    "uuid": ' (expected "urn:uuid:" and a lower-case 8-4-4-4-12 hexadecimal UUID)',
    "base64Binary": " (expected base64: letters, digits, +, / and = in groups of four)",
    "uri": " (a URI has no spaces)", "url": " (a URL has no spaces)",
    "canonical": " (a canonical URL has no spaces)",
    "id": " (1 to 64 letters, digits, '-' or '.')",
    "code": " (no leading, trailing or repeated spaces)",
}
