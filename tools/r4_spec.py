"""The R4 (4.0.1) definitions, read from the official examples package, and what they say
that the R4B models of fhir.resources do not.

The ``hl7.fhir.r4.examples`` package carries the specification's own StructureDefinitions,
ValueSets and CodeSystems. This module

* generates ``adapters/fhir/r4_definitions.py`` (the R4 resource types, required bindings with
  their code sets, reference targets and backbone element paths) -- run
  ``python -m tools.r4_spec [package-dir]`` to rewrite it;
* compares every R4 StructureDefinition with the R4B model classes, element by element
  (names, types, cardinality, minimum, choice groups), which is how the differences listed in
  ``adapters/fhir/plans.py`` were found and how ``test_r4_definitions.py`` keeps them honest.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Resources whose own required bindings and reference targets are enforced: the gateway's
# types and the ones they commonly contain (a contained Medication in a MedicationRequest).
TABLE_RESOURCES = (
    "Patient", "Encounter", "Observation", "MedicationRequest", "Condition", "AllergyIntolerance",
    "Practitioner", "Organization", "Procedure", "Immunization", "DiagnosticReport", "Bundle",
    "OperationOutcome", "AuditEvent",
    "Medication", "Location", "Provenance", "Specimen", "Device", "Substance", "PractitionerRole",
    "RelatedPerson", "Group", "MeasureReport", "ImagingStudy", "Appointment",
    "AppointmentResponse",
)
SKIPPED_DATATYPES = ("ElementDefinition",)  # never reachable from the types above
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_STRING = "http://hl7.org/fhirpath/System.String"
CODED = ("code", "Coding", "CodeableConcept")


@dataclass
class Element:
    path: str
    min: int
    max: str
    types: list[str]
    content_reference: str | None
    binding_strength: str | None
    binding_value_set: str | None
    targets: dict[str, list[str]] = field(default_factory=dict)  # type code -> target types


@dataclass
class R4Package:
    structure_definitions: dict[str, dict[str, Any]]  # by type, specializations only
    value_sets: dict[str, dict[str, Any]]
    code_systems: dict[str, dict[str, Any]]
    _tables: dict[str, Any] | None = None

    @classmethod
    def load(cls, directory: Path) -> R4Package:
        sds: dict[str, dict[str, Any]] = {}
        value_sets: dict[str, dict[str, Any]] = {}
        code_systems: dict[str, dict[str, Any]] = {}
        for path in sorted(directory.glob("StructureDefinition-*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("derivation") == "specialization" and doc.get("kind") in (
                    "resource", "complex-type"):
                sds[doc["type"]] = doc
        for path in sorted(directory.glob("ValueSet-*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            value_sets[doc["url"]] = doc
        for path in sorted(directory.glob("CodeSystem-*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            code_systems[doc["url"]] = doc
        return cls(sds, value_sets, code_systems)

    # -------------------------------------------------------------- types

    def resource_types(self) -> list[str]:
        return sorted(t for t, sd in self.structure_definitions.items()
                      if sd["kind"] == "resource" and not sd.get("abstract"))

    def datatypes(self) -> list[str]:
        return sorted(t for t, sd in self.structure_definitions.items()
                      if sd["kind"] == "complex-type" and not sd.get("abstract"))

    def elements(self, type_name: str) -> list[Element]:
        out = []
        for e in self.structure_definitions[type_name]["snapshot"]["element"][1:]:
            type_codes = []
            targets: dict[str, list[str]] = {}
            for t in e.get("type", []):
                code = t["code"]
                if code == SYSTEM_STRING:
                    code = next((x["valueUrl"] for x in t.get("extension", [])
                                 if x["url"] == FHIR_TYPE_EXT), "string")
                type_codes.append(code)
                if "targetProfile" in t:
                    targets[code] = [p.rsplit("/", 1)[1] for p in t["targetProfile"]]
            binding = e.get("binding") or {}
            out.append(Element(
                path=e["path"], min=int(e["min"]), max=str(e["max"]), types=type_codes,
                content_reference=e.get("contentReference"),
                binding_strength=binding.get("strength"),
                binding_value_set=(binding["valueSet"].split("|")[0]
                                   if "valueSet" in binding else None),
                targets=targets))
        return out

    # -------------------------------------------------------------- terminology

    def expand(self, url: str, seen: frozenset[str] = frozenset()) -> dict[str, set[str]] | None:
        """The value set's codes by system, or None when it is not enumerable here."""
        vs = self.value_sets.get(url)
        if vs is None or url in seen or "compose" not in vs:
            return None
        out: dict[str, set[str]] = {}
        for include in vs["compose"].get("include", []):
            part = self._include(include, seen | {url})
            if part is None:
                return None
            for system, codes in part.items():
                out.setdefault(system, set()).update(codes)
        for exclude in vs["compose"].get("exclude", []):
            part = self._include(exclude, seen | {url})
            if part is None:
                return None
            for system, codes in part.items():
                out.get(system, set()).difference_update(codes)
        return out

    def _include(self, include: dict[str, Any], seen: frozenset[str]) -> dict[str, set[str]] | None:
        if "filter" in include:
            return None
        out: dict[str, set[str]] = {}
        for nested in include.get("valueSet", []):
            part = self.expand(nested.split("|")[0], seen)
            if part is None:
                return None
            for nested_system, nested_codes in part.items():
                out.setdefault(nested_system, set()).update(nested_codes)
        system: str | None = include.get("system")
        if system is not None:
            codes: set[str]
            if "concept" in include:
                codes = {c["code"] for c in include["concept"]}
            else:
                cs = self.code_systems.get(system)
                if cs is None or cs.get("content") != "complete":
                    return None
                codes = set(_flatten(cs.get("concept", [])))
            if out:
                out = {s: c for s, c in out.items() if s == system}
                out[system] = out.get(system, set()) & codes
            else:
                out[system] = codes
        return out

    # -------------------------------------------------------------- tables

    def tables(self) -> dict[str, Any]:
        """Everything ``adapters/fhir/r4_definitions.py`` holds (computed once)."""
        if self._tables is None:
            self._tables = self._compute_tables()
        return self._tables

    def _compute_tables(self) -> dict[str, Any]:
        covered = [*TABLE_RESOURCES, *(d for d in self.datatypes() if d not in SKIPPED_DATATYPES)]
        backbones: dict[str, str] = {}
        bindings: dict[str, str] = {}
        unenforced: dict[str, str] = {}
        targets: dict[str, list[str]] = {}
        for type_name in covered:
            for e in self.elements(type_name):
                if e.content_reference is None and any(
                        t in ("BackboneElement", "Element") for t in e.types):
                    backbones[class_name(e.path)] = e.path
                if e.binding_strength == "required" and e.binding_value_set:
                    for name, type_code in expanded_names(e):
                        if type_code not in CODED:
                            continue
                        if self.expand(e.binding_value_set) is None:
                            unenforced[name] = e.binding_value_set
                        else:
                            bindings[name] = e.binding_value_set
                for name, type_code in expanded_names(e):
                    if type_code == "Reference" and "Reference" in e.targets:
                        targets[name] = sorted(e.targets["Reference"])
        value_sets = {url: {s: sorted(c) for s, c in sorted((self.expand(url) or {}).items())}
                      for url in sorted(set(bindings.values()))}
        incompatible = sorted(t for t in self.resource_types() if r4b_differences(self, t))
        return {"resource_types": self.resource_types(), "datatypes": self.datatypes(),
                "incompatible": incompatible,
                "backbones": dict(sorted(backbones.items())),
                "bindings": dict(sorted(bindings.items())),
                "unenforced": dict(sorted(unenforced.items())),
                "targets": dict(sorted(targets.items())), "value_sets": value_sets}


def _flatten(concepts: Iterable[dict[str, Any]]) -> Iterator[str]:
    for c in concepts:
        yield c["code"]
        yield from _flatten(c.get("concept", []))


def class_name(path: str) -> str:
    """fhir.resources' class of a backbone element: ``Bundle.entry.request`` ->
    ``BundleEntryRequest``."""
    return "".join(part[0].upper() + part[1:] for part in path.split("."))


def expanded_names(e: Element) -> list[tuple[str, str]]:
    """(JSON path, type) of each element name, ``value[x]`` expanded per type."""
    if e.path.endswith("[x]"):
        stem = e.path[:-3]
        return [(stem + t[0].upper() + t[1:], t) for t in e.types]
    return [(e.path, t) for t in e.types]


# ------------------------------------------------------------------ R4 vs R4B


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    from fhir_core.types import FhirBase

    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            is_list = True
            annotation = typing.get_args(annotation)[0]
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        return is_list, annotation.get_model_klass().__name__
    from fhir_core.constraints import FHIR_PRIMITIVES_MAPS

    if annotation is bool:
        return is_list, "boolean"
    return is_list, FHIR_PRIMITIVES_MAPS.get(annotation, str(annotation))


def r4b_fields(class_: type[Any]) -> dict[str, tuple[bool, str, bool, str | None]]:
    """alias -> (is list, type, required, choice group) of an R4B model class."""
    out = {}
    for name, info in class_.model_fields.items():
        if name.endswith("__ext") or name == "fhir_comments":
            continue
        extra = info.json_schema_extra or {}
        is_list, type_name = _unwrap(info.annotation)
        choice = extra.get("one_of_many")
        required = bool(info.is_required() or extra.get("element_required")
                        or extra.get("one_of_many_required"))
        out[info.alias or name] = (is_list, type_name, required, choice)
    return out


def r4_fields(pkg: R4Package, type_name: str) -> dict[str, dict[str, tuple[bool, str, bool]]]:
    """class name -> alias -> (is list, type, required) from the R4 StructureDefinition."""
    classes: dict[str, dict[str, tuple[bool, str, bool]]] = {}
    for e in pkg.elements(type_name):
        parent, _, _ = e.path.rpartition(".")
        owner = type_name if parent == type_name else class_name(parent)
        is_list = e.max != "1"
        if e.content_reference:
            kind = class_name(e.content_reference.lstrip("#"))
            classes.setdefault(owner, {})[e.path.rsplit(".", 1)[1]] = (is_list, kind, e.min > 0)
            continue
        for name, t in expanded_names(e):
            kind = class_name(e.path) if t in ("BackboneElement", "Element") else t
            classes.setdefault(owner, {})[name.rsplit(".", 1)[1]] = (is_list, kind, e.min > 0)
    return classes


def r4b_differences(pkg: R4Package, type_name: str) -> list[str]:
    """Every element of ``type_name`` whose R4 definition and R4B model disagree."""
    from fhir.resources.R4B import get_fhir_model_class

    out: list[str] = []
    for owner, r4 in sorted(r4_fields(pkg, type_name).items()):
        try:
            r4b = r4b_fields(get_fhir_model_class(owner))
        except (ValueError, AttributeError, ImportError):
            out.append(f"{owner}: no R4B model")
            continue
        for alias, (is_list, kind, required) in r4.items():
            if alias not in r4b:
                out.append(f"{owner}.{alias}: R4 only ({kind})")
                continue
            b_list, b_kind, b_required, _choice = r4b[alias]
            if kind != b_kind and (kind, b_kind) not in (("string", "id"), ("id", "string")):
                out.append(f"{owner}.{alias}: R4 type {kind}, R4B type {b_kind}")
            if is_list != b_list:
                out.append(f"{owner}.{alias}: R4 {'list' if is_list else 'single'}, "
                           f"R4B {'list' if b_list else 'single'}")
            if required != b_required:
                out.append(f"{owner}.{alias}: R4 min {1 if required else 0}, "
                           f"R4B min {1 if b_required else 0}")
        for alias in sorted(r4b.keys() - r4.keys()):
            out.append(f"{owner}.{alias}: R4B only ({r4b[alias][1]})")
    return out


def reference_target_differences(pkg: R4Package, type_name: str) -> list[str]:
    from fhir.resources.R4B import get_fhir_model_class

    out = []
    for e in pkg.elements(type_name):
        for name, t in expanded_names(e):
            if t != "Reference" or "Reference" not in e.targets:
                continue
            parent, _, alias = name.rpartition(".")
            owner = type_name if parent == type_name else class_name(parent)
            class_ = get_fhir_model_class(owner)
            info = next((f for f in class_.model_fields.values() if f.alias == alias), None)
            if info is None:
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            r4b = set(typing.cast(list[str], extra.get("enum_reference_types", [])))
            r4 = set(e.targets["Reference"])
            if r4 != r4b:
                out.append(f"{name}: R4B adds {sorted(r4b - r4)}, drops {sorted(r4 - r4b)}")
    return out


# ------------------------------------------------------------------ code generation


def _literal_set(prefix: str, values: Iterable[str], suffix: str = ",") -> str:
    """``prefix`` + a frozenset literal + ``suffix``, wrapped to stay within 110 columns."""
    items = [json.dumps(v) for v in values]
    line = prefix + "frozenset({" + ", ".join(items) + "})" + suffix
    if len(line) <= 110:
        return line
    indent = len(prefix) - len(prefix.lstrip())
    pad = " " * (indent + 4)
    lines, current = [], ""
    for item in items:
        if current and len(pad) + len(current) + len(item) + 1 > 108:
            lines.append(pad + current.rstrip())
            current = ""
        current += item + ", "
    lines.append(pad + current.rstrip())
    return (prefix + "frozenset({\n" + "\n".join(lines) + "\n" + " " * indent + "})"
            + suffix)


def render(tables: dict[str, Any]) -> str:
    out = ['"""R4 (4.0.1) definitions that the R4B models of fhir.resources do not carry.',
           "",
           "GENERATED by ``python -m tools.r4_spec`` from the StructureDefinitions, ValueSets",
           "and CodeSystems in the npm package hl7.fhir.r4.examples 4.0.1; do not edit by hand",
           "(``tests/fhir/test_r4_definitions.py`` fails when this file and the package disagree).",
           '"""', "", "from __future__ import annotations", ""]
    out.append(_literal_set("RESOURCE_TYPES: frozenset[str] = ", tables["resource_types"], ""))
    out.append(_literal_set("DATATYPES: frozenset[str] = ", tables["datatypes"], ""))
    out += ["", "# resource types whose R4B model differs from R4 (or that R4B dropped): never handed",
            "# to fhir.resources"]
    out.append(_literal_set("R4B_INCOMPATIBLE: frozenset[str] = ", tables["incompatible"], ""))
    out += ["", "# fhir.resources class of each backbone element -> the element's R4 path",
            "BACKBONES: dict[str, str] = {"]
    out += [f"    {json.dumps(k)}: {json.dumps(v)}," for k, v in tables["backbones"].items()]
    out += ["}", "", "# required bindings: element -> value set; the codes of each value set by system",
            "REQUIRED_BINDINGS: dict[str, str] = {"]
    for k, v in tables["bindings"].items():
        line = f"    {json.dumps(k)}: {json.dumps(v)},"
        out.append(line if len(line) <= 110 else f"    {json.dumps(k)}:\n        {json.dumps(v)},")
    out += ["}", "", "# required bindings to value sets that cannot be enumerated here (not enforced)",
            "UNENFORCED_BINDINGS: dict[str, str] = {"]
    out += [f"    {json.dumps(k)}: {json.dumps(v)}," for k, v in tables["unenforced"].items()]
    out += ["}", "", "VALUE_SETS: dict[str, dict[str, frozenset[str]]] = {"]
    for url, systems in tables["value_sets"].items():
        out.append(f"    {json.dumps(url)}: {{")
        for system, codes in systems.items():
            out.append(_literal_set(f"        {json.dumps(system)}: ", codes))
        out.append("    },")
    out += ["}", "", "# Reference elements -> the resource types they may point to (\"Resource\": any)",
            "REFERENCE_TARGETS: dict[str, frozenset[str]] = {"]
    for k, v in tables["targets"].items():
        out.append(_literal_set(f"    {json.dumps(k)}: ", v))
    out += ["}", ""]
    return "\n".join(out)


TARGET = Path(__file__).resolve().parents[1] / "adapters" / "fhir" / "r4_definitions.py"


def main(argv: list[str]) -> int:
    from tests.fhir.corpus import examples_dir

    directory = Path(argv[0]) if argv else examples_dir()
    TARGET.write_text(render(R4Package.load(directory).tables()), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
