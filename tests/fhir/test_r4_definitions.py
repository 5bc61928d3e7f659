"""The generated R4 tables and the R4/R4B differences documented in adapters/fhir/plans.py
are what the R4 StructureDefinitions say."""

from __future__ import annotations

from adapters.fhir import r4_definitions
from adapters.fhir.plans import (
    R4_ONLY_ELEMENTS,
    R4B_ONLY_ELEMENTS,
    Plan,
    element_plan,
    resource_plan,
)
from adapters.fhir.validator import HANDLED_TYPES
from tools.r4_spec import (
    TABLE_RESOURCES,
    TARGET,
    R4Package,
    r4b_differences,
    reference_target_differences,
    render,
)


def test_the_generated_tables_match_the_r4_package(r4_package: R4Package) -> None:
    assert TARGET.read_text(encoding="utf-8") == render(r4_package.tables()), (
        "adapters/fhir/r4_definitions.py is stale: run `python -m tools.r4_spec`")


def test_the_gateway_types_are_identical_in_r4_and_r4b(r4_package: R4Package) -> None:
    assert {t: r4b_differences(r4_package, t) for t in sorted(HANDLED_TYPES)} == {
        t: [] for t in sorted(HANDLED_TYPES)}
    assert HANDLED_TYPES <= set(TABLE_RESOURCES)
    assert not HANDLED_TYPES & r4_definitions.R4B_INCOMPATIBLE


def test_the_documented_datatype_differences_are_all_there_are(r4_package: R4Package) -> None:
    found = {t: r4b_differences(r4_package, t) for t in r4_package.datatypes()}
    assert {t: d for t, d in found.items() if d} == {
        "Extension": ["Extension.valueMeta: R4 only (Meta)",
                      "Extension.valueCodeableReference: R4B only (CodeableReference)",
                      "Extension.valueRatioRange: R4B only (RatioRange)"],
        "ElementDefinition": found["ElementDefinition"],  # not reachable from these types
        "MarketingStatus": ["MarketingStatus.country: R4 min 1, R4B min 0",
                            "MarketingStatus.dateRange: R4 min 1, R4B min 0"],
        "SubstanceAmount": ["SubstanceAmount: no R4B model",
                            "SubstanceAmountReferenceRange: no R4B model"],
    }
    assert R4_ONLY_ELEMENTS == {"Extension": (("valueMeta", "Meta", "value"),)}
    assert R4B_ONLY_ELEMENTS == {
        "Extension": frozenset({"valueCodeableReference", "valueRatioRange"})}


def test_reference_targets_r4b_widened(r4_package: R4Package) -> None:
    widened = {t: reference_target_differences(r4_package, t) for t in TABLE_RESOURCES}
    extra = ["Medication", "Organization", "Practitioner", "Procedure", "Substance"]
    assert {t: d for t, d in widened.items() if d} == {
        "Observation": [f"Observation.subject: R4B adds {extra}, drops []"],
        "DiagnosticReport": [f"DiagnosticReport.subject: R4B adds {extra}, drops []"],
        "Group": ["Group.member.entity: R4B adds ['RelatedPerson'], drops []"],
    }
    assert r4_definitions.REFERENCE_TARGETS["Observation.subject"] == {
        "Patient", "Group", "Device", "Location"}


def test_the_resource_types_r4b_changed(r4_package: R4Package) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    missing = set()
    for resource_type in r4_definitions.RESOURCE_TYPES:
        try:
            get_fhir_model_class(resource_type)
        except ValueError:
            missing.add(resource_type)
    assert len(r4_definitions.RESOURCE_TYPES) == 146
    assert len(missing) == 18 and missing <= r4_definitions.R4B_INCOMPATIBLE
    assert r4_definitions.R4B_INCOMPATIBLE - missing == {
        "ActivityDefinition", "Evidence", "EvidenceVariable", "PlanDefinition"}


def _reachable(plan: Plan, seen: dict[str, Plan]) -> None:
    if plan.name in seen:
        return
    seen[plan.name] = plan
    for f in plan.fields.values():
        if f.plan is not None:
            _reachable(f.plan, seen)


def test_every_compiled_class_maps_to_an_r4_element_path() -> None:
    plans: dict[str, Plan] = {}
    for resource_type in sorted(HANDLED_TYPES):
        plan = resource_plan(resource_type)
        assert plan is not None
        _reachable(plan, plans)
    _reachable(element_plan(), plans)
    roots = r4_definitions.RESOURCE_TYPES | r4_definitions.DATATYPES | {"Element"}
    unmapped = {name for name, plan in plans.items()
                if plan.path == name and name not in roots}
    assert unmapped == set()
    # bindings and targets all landed on a field
    bound = {f"{p.path}.{f.name}" for p in plans.values() for f in p.fields.values()
             if f.codes is not None or f.coded is not None}
    assert {"Observation.status", "Patient.gender", "Condition.clinicalStatus",
            "Bundle.entry.request.method", "HumanName.use", "Timing.repeat.when"} <= bound
    assert bound <= set(r4_definitions.REQUIRED_BINDINGS)
