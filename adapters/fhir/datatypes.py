"""Layer 1, the checks of one value by its datatype, which the walk (``structure.py``) runs at
each element: primitives (JSON type, empty strings, the formats pydantic lets through, codes
of required bindings) and the complex datatypes with rules of their own -- Reference
(format, ``#contained`` targets, the element's R4 target types), Extension (ext-1), and
Coding / CodeableConcept under a required binding. None of them descends into children.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from adapters.fhir.plans import (
    J_BOOL,
    J_INT,
    J_STR,
    JSON_WORDS,
    UUID_FORMAT,
    Field,
    Plan,
)
from adapters.fhir.r4_definitions import RESOURCE_TYPES
from resolvers.fhir.issues import Issue

# Reference.reference forms
_ID = r"[A-Za-z0-9\-.]{1,64}"
RELATIVE_REF = re.compile(rf"([A-Z][A-Za-z]+)/{_ID}(/_history/{_ID})?")
CONDITIONAL_REF = re.compile(r"([A-Z][A-Za-z]+)\?\S+")  # in transactions
ABSOLUTE_REF = re.compile(rf"[a-z][a-z0-9+.\-]*://\S*?/([A-Z][A-Za-z]+)/{_ID}(/_history/{_ID})?")
ABSOLUTE_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:\S+")
OID_REF = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")


def describe(value: Any) -> str:
    """A JSON value in words, for diagnostics (long strings cut short)."""
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


def join_words(words: typing.Iterable[str]) -> str:
    """``a, b or c``, sorted."""
    items = sorted(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


class DatatypeChecks:
    """The issues of one walk and the checks that report into them. ``flagged`` holds the
    expressions a shape problem was reported at (pydantic's view of those is dropped);
    ``contained_ids`` the ids of the resource's contained resources, for ``#id`` references."""

    __slots__ = ("contained_ids", "flagged", "issues")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.flagged: set[str] = set()
        self.contained_ids: frozenset[str] = frozenset()

    def error(self, code: str, expr: str, text: str) -> None:
        self.issues.append(Issue("error", code, text, expr))
        self.flagged.add(expr)

    # -------------------------------------------------------------- primitives

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
                f"{join_words(f.codes)} (required binding to {f.value_set})", expr))

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

    # -------------------------------------------------------------- complex datatypes

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
                f"{join_words(owner.coded)} (required binding to {owner.value_set}), not "
                f"{describe(system)}", f"{expr}.system"))
        elif isinstance(code, str) and code not in codes:
            self.issues.append(Issue(
                "error", "code-invalid", f'"{code}" is not a valid code of {system} for '
                f"{expr}: expected {join_words(codes)}", f"{expr}.code"))

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
                        f"for {expr}: expected {join_words(codes)}", f"{expr}.coding[{i}].code"))
                    return
                matched = True
        if not matched:
            wanted = "; ".join(f"{s}: {join_words(c)}" for s, c in owner.coded.items())
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
                "warning", "invalid", f"{expr} may refer to {join_words(targets)}, not {ref_type}",
                expr))


_FORMAT_HINTS = {
    "uuid": ' (expected "urn:uuid:" and a lower-case 8-4-4-4-12 hexadecimal UUID)',
    "base64Binary": " (expected base64: letters, digits, +, / and = in groups of four)",
    "uri": " (a URI has no spaces)", "url": " (a URL has no spaces)",
    "canonical": " (a canonical URL has no spaces)",
    "id": " (1 to 64 letters, digits, '-' or '.')",
    "code": " (no leading, trailing or repeated spaces)",
}
