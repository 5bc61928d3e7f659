"""The R4 element tree, compiled once per model class for the structural walk.

The tree (names, types, cardinality, choice groups, required elements) comes from the R4B
model classes of fhir.resources, corrected to R4 where the two differ; required bindings,
reference targets and the list of R4 resource types come from ``r4_definitions``, generated
from the R4 StructureDefinitions themselves (``python -m tools.r4_spec``).

R4 / R4B differences, found by ``tools/r4_spec.py``, which compares every R4
StructureDefinition element by element (names, types, cardinality, minimum, choice groups,
reference targets, required value sets) with the R4B classes, and kept true by
``tests/fhir/test_r4_definitions.py``:

* the 14 gateway types (Patient ... AuditEvent) and their backbone elements: identical
  names, types and cardinalities. The renames one might expect (``MedicationRequest.medication``
  as a CodeableReference, ``Encounter.class`` as a list, ``Immunization`` reworked,
  ``reported[x]`` gone) are R5 -- fhir.resources' default top-level models -- which is why
  only ``fhir.resources.R4B`` is ever imported; the official R4 examples of those types all
  validate against R4B unchanged;
* reference targets: R4B lets ``Observation.subject`` and ``DiagnosticReport.subject`` point to
  Medication, Organization, Practitioner, Procedure and Substance too, and
  ``Group.member.entity`` to RelatedPerson; the R4 targets are enforced (as warnings, see
  datatypes.py);
* ``Extension.value[x]``: R4 allows ``valueMeta``, which R4B dropped (accepted here and
  validated as Meta on its own); R4B added ``valueCodeableReference`` and ``valueRatioRange``
  (refused as unknown elements). ElementDefinition's ``defaultValue[x]``/``fixed[x]``/
  ``pattern[x]`` changed the same way, but ElementDefinition is not reachable from these types;
* R4B's Extension model has no ``_valueX`` primitive extensions (a fhir.resources gap, not an
  R4B rule): accepted here and validated as Element on their own;
* resource types: R4B dropped 18 R4 types (MedicinalProduct and its 9 companions,
  SubstanceNucleicAcid/Polymer/Protein/ReferenceInformation/SourceMaterial/Specification,
  EffectEvidenceSynthesis, RiskEvidenceSynthesis) and added 13 (Citation, Ingredient,
  SubscriptionTopic, ...); Evidence, EvidenceVariable, ActivityDefinition (subjectCanonical)
  and PlanDefinition (subjectCanonical) changed shape. The R4 list decides what a
  ``resourceType`` may be; the types listed in ``R4B_INCOMPATIBLE`` never reach fhir.resources
  (a contained one is a "not validated" warning);
* datatypes otherwise: MarketingStatus.country/dateRange became optional and SubstanceAmount
  has no R4B model; neither is reachable from these types;
* required bindings: every value set R4B lists for these types holds the same codes as R4's;
  the R4 code sets are the ones used.
"""

from __future__ import annotations

import re
import threading
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.element import Element
from fhir.resources.R4B.fhirprimitiveextension import FHIRPrimitiveExtension
from fhir_core.constraints import FHIR_PRIMITIVES_MAPS
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import FhirBase

from adapters.fhir.r4_definitions import (
    BACKBONES,
    R4B_INCOMPATIBLE,
    REFERENCE_TARGETS,
    REQUIRED_BINDINGS,
    RESOURCE_TYPES,
    VALUE_SETS,
)

# Field kinds
PRIMITIVE, COMPLEX, RESOURCE, SKIP = 0, 1, 2, 3
# JSON types of primitives
J_STR, J_BOOL, J_INT, J_DEC = 0, 1, 2, 3
JSON_OF = {"boolean": J_BOOL, "integer": J_INT, "unsignedInt": J_INT, "positiveInt": J_INT,
           "integer64": J_INT, "decimal": J_DEC}
JSON_WORDS = {J_STR: "a JSON string", J_BOOL: "true or false", J_INT: "a JSON integer",
              J_DEC: "a JSON number"}


# R4 formats of the primitives fhir_core checks differently (or not at all): the same
# verdicts as the R4 regexes, written so that long values (base64 attachments) stay cheap.
_WHITESPACE = re.compile(r"\s")
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"  # \s of the (Java) R4 regexes
UUID_FORMAT = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_FORMAT = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_CODE_FORMAT = re.compile(r"[^\s]+(\s[^\s]+)*")


def _no_whitespace(value: str) -> bool:  # uri, url, canonical: \S*
    return _WHITESPACE.search(value) is None


def _base64(value: str) -> bool:  # (\s*([0-9a-zA-Z\+/=]){4}\s*)+
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        return False
    packed = raw.translate(None, _ASCII_WHITESPACE)
    return bool(packed) and len(packed) % 4 == 0 and not packed.translate(None, _BASE64_ALPHABET)


def _code_format(value: str) -> bool:  # checked before the code set of a required binding
    return _CODE_FORMAT.fullmatch(value) is not None


OWN_FORMATS: dict[str, typing.Callable[[str], bool]] = {
    "uuid": lambda v: UUID_FORMAT.fullmatch(v) is not None,
    "base64Binary": _base64,
    "uri": _no_whitespace, "url": _no_whitespace, "canonical": _no_whitespace,
    "id": lambda v: _ID_FORMAT.fullmatch(v) is not None,
}
# Types whose pydantic verdict is wrong for R4 and replaced by the check above.
OWN_FORMAT_ONLY = frozenset({"uuid", "base64Binary"})

# R4 vs R4B: elements R4B added (refused) and R4 elements R4B dropped (accepted).
R4B_ONLY_ELEMENTS: dict[str, frozenset[str]] = {
    "Extension": frozenset({"valueCodeableReference", "valueRatioRange"}),
}
R4_ONLY_ELEMENTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Extension": (("valueMeta", "Meta", "value"),),  # (JSON name, datatype, choice group)
}


@dataclass(slots=True, eq=False)
class Field:
    """One JSON property of a :class:`Plan`."""

    name: str                      # the JSON name (pydantic alias)
    kind: int
    fhir_type: str                 # primitive type name, or the datatype/backbone class name
    is_list: bool
    required: bool
    choice: str | None = None      # choice group, e.g. "value" for value[x]
    json: int = J_STR
    plan: Plan | None = None       # COMPLEX: the plan of the element's class
    codes: frozenset[str] | None = None            # required binding of a ``code``
    coded: dict[str, frozenset[str]] | None = None  # required binding of a Coding/CodeableConcept
    value_set: str | None = None
    targets: frozenset[str] | None = None          # Reference: allowed target types
    deferred: type[FHIRAbstractModel] | None = None  # validated by pydantic on its own
    check: typing.Callable[[str], bool] | None = None  # R4 format (and code spelling) check


@dataclass(slots=True, eq=False)
class Plan:
    """A model class compiled for the walk."""

    name: str                      # class name, e.g. ObservationComponent
    path: str                      # its R4 element path, e.g. Observation.component
    model: type[FHIRAbstractModel]
    fields: dict[str, Field] = field(default_factory=dict)
    extensions: dict[str, Field] = field(default_factory=dict)  # "_status" -> status
    required: tuple[Field, ...] = ()
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    required_choices: tuple[str, ...] = ()
    is_resource: bool = False
    special: str = ""              # "Reference", "Coding", "CodeableConcept", "Extension"


_PLANS: dict[type[FHIRAbstractModel], Plan] = {}  # complete plans only
_STAGING: dict[type[FHIRAbstractModel], Plan] = {}  # being compiled, under _LOCK
_LOCK = threading.RLock()
_RESOURCE_PLANS: dict[str, Plan | None] = {}


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            is_list = True
            annotation = typing.get_args(annotation)[0]
        else:
            return is_list, annotation


def _model_of(annotation: Any) -> type[FHIRAbstractModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        return annotation.get_model_klass()
    return None


def plan_for(model: type[FHIRAbstractModel]) -> Plan:
    """The compiled plan of a model class (compiled on first use, then cached).

    A class and everything it reaches is compiled under a lock and published at once, so
    other threads never see a plan whose fields are still being filled in."""
    plan = _PLANS.get(model)
    if plan is not None:
        return plan
    with _LOCK:
        plan = _PLANS.get(model) or _STAGING.get(model)
        if plan is not None:
            return plan
        outermost = not _STAGING
        try:
            plan = _compile(model)
            if outermost:
                _PLANS.update(_STAGING)
        finally:
            if outermost:
                _STAGING.clear()
        return plan


def resource_plan(resource_type: str) -> Plan | None:
    """The plan of an R4 resource type fhir.resources can validate as R4, else None."""
    try:
        return _RESOURCE_PLANS[resource_type]
    except KeyError:
        pass
    plan: Plan | None = None
    if resource_type in RESOURCE_TYPES and resource_type not in R4B_INCOMPATIBLE:
        plan = plan_for(get_fhir_model_class(resource_type))
    _RESOURCE_PLANS[resource_type] = plan
    return plan


def _compile(model: type[FHIRAbstractModel]) -> Plan:
    name = model.__name__
    plan = Plan(name=name, path=BACKBONES.get(name, name), model=model,
                is_resource=model.has_resource_base())
    if name in ("Reference", "Coding", "CodeableConcept", "Extension"):
        plan.special = name
    _STAGING[model] = plan  # before the fields: element trees are recursive
    dropped = R4B_ONLY_ELEMENTS.get(name, frozenset())
    required_choices: set[str] = set()
    for attr, info in model.model_fields.items():
        if attr.endswith("__ext") or attr == "fhir_comments":
            continue
        alias = info.alias or attr
        if alias in dropped:
            continue
        extra: dict[str, Any] = info.json_schema_extra if isinstance(
            info.json_schema_extra, dict) else {}
        is_list, inner = _unwrap(info.annotation)
        choice = extra.get("one_of_many")
        if choice and extra.get("one_of_many_required"):
            required_choices.add(choice)
        required = bool(not choice and (info.is_required() or extra.get("element_required")))
        target = _model_of(inner)
        if target is not None:
            if target.__name__ == "Resource":
                kind = SKIP if (name, alias) == ("BundleEntry", "resource") else RESOURCE
                f = Field(alias, kind, "Resource", is_list, required, choice)
            else:
                f = Field(alias, COMPLEX, target.__name__, is_list, required, choice)
                f.plan = plan_for(target)
        else:
            fhir_type = "boolean" if inner is bool else FHIR_PRIMITIVES_MAPS.get(inner, "string")
            f = Field(alias, PRIMITIVE, fhir_type, is_list, required, choice,
                      json=JSON_OF.get(fhir_type, J_STR))
            ext = Field("_" + alias, PRIMITIVE, fhir_type, is_list, False)
            if f"{attr}__ext" not in model.model_fields:
                ext.deferred = FHIRPrimitiveExtension
            plan.extensions[ext.name] = ext
        _bind(plan, f)
        if f.kind == PRIMITIVE:
            f.check = OWN_FORMATS.get(f.fhir_type) or (_code_format if f.codes else None)
        plan.fields[alias] = f
    for alias, datatype, choice in R4_ONLY_ELEMENTS.get(name, ()):
        target = get_fhir_model_class(datatype)
        f = Field(alias, COMPLEX, datatype, False, False, choice, plan=plan_for(target),
                  deferred=target)
        plan.fields[alias] = f
    groups: dict[str, list[str]] = {}
    for f in plan.fields.values():
        if f.choice:
            groups.setdefault(f.choice, []).append(f.name)
    plan.choices = {k: tuple(v) for k, v in groups.items()}
    plan.required_choices = tuple(sorted(required_choices))
    plan.required = tuple(f for f in plan.fields.values() if f.required)
    return plan


def _bind(plan: Plan, f: Field) -> None:
    key = f"{plan.path}.{f.name}"
    url = REQUIRED_BINDINGS.get(key)
    if url is not None:
        systems = VALUE_SETS[url]
        f.value_set = url
        if f.fhir_type == "code":
            f.codes = frozenset().union(*systems.values())
        else:
            f.coded = systems
    if f.fhir_type == "Reference":
        f.targets = REFERENCE_TARGETS.get(key)


def element_plan() -> Plan:
    """The plan of a primitive's ``_x`` object: an Element (id and extension)."""
    return plan_for(Element)
