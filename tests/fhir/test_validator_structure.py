"""Layer 1, case by case: what pydantic lets through, the R4/R4B differences, bad input."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from adapters.fhir.validator import FhirValidator
from resolvers.fhir.issues import Issue, operation_outcome
from resolvers.fhir.ports import ResourceValidator
from tests.fhir.corpus import load

OBS: dict[str, Any] = {"resourceType": "Observation", "id": "o1", "status": "final",
                       "code": {"text": "glucose"}, "subject": {"reference": "Patient/p1"}}
PATIENT: dict[str, Any] = {"resourceType": "Patient", "id": "p1"}


@pytest.fixture(scope="module")
def v() -> FhirValidator:
    return FhirValidator(rules=False)


def found(issues: list[Issue]) -> list[tuple[str, str, str | None]]:
    return sorted((i.severity, i.code, i.expression) for i in issues)


def err(code: str, expression: str | None) -> tuple[str, str, str | None]:
    return ("error", code, expression)


def check(v: FhirValidator, resource: Any, *expected: tuple[str, str, str | None],
          path: str | None = None) -> list[Issue]:
    issues = v.validate(resource, path=path)
    assert found(issues) == sorted(expected), [i.diagnostics for i in issues]
    assert all(i.diagnostics and "Traceback" not in i.diagnostics for i in issues)
    return issues


# ------------------------------------------------------------------ the resource itself


@pytest.mark.parametrize("value", [None, "Patient", 42, [PATIENT], True])
def test_not_an_object_is_one_structure_issue(v: FhirValidator, value: Any) -> None:
    check(v, value, err("structure", None))


def test_resource_type_problems(v: FhirValidator) -> None:
    check(v, {"id": "x"}, err("structure", None))
    check(v, {"resourceType": "Patinet"}, err("structure", None))
    check(v, {"resourceType": 7}, err("structure", None))
    check(v, {"resourceType": "Citation"}, err("structure", None))  # R4B only
    check(v, {"resourceType": "Foo"}, err("structure", "Bundle.entry[0].resource.resourceType"),
          path="Bundle.entry[0].resource")


def test_a_valid_r4_type_the_gateway_does_not_handle(v: FhirValidator) -> None:
    issues = check(v, {"resourceType": "Medication"}, err("not-supported", "Medication"))
    assert "not handled" in issues[0].diagnostics
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Medication"}}]}
    check(v, bundle, ("warning", "not-supported", "Bundle.entry[0].resource"))


def test_the_path_prefixes_every_expression(v: FhirValidator) -> None:
    check(v, {**OBS, "status": "done", "foo": 1},
          err("code-invalid", "Bundle.entry[2].resource.status"),
          err("structure", "Bundle.entry[2].resource.foo"), path="Bundle.entry[2].resource")


# ------------------------------------------------------------------ what pydantic lets through


@pytest.mark.parametrize(("element", "value", "code"), [
    ("valueBoolean", "true", "value"),           # pydantic: True
    ("valueInteger", "5", "value"),              # pydantic: 5
    ("valueInteger", 5.0, "value"),
    ("valueInteger", True, "value"),
    ("valueString", 5, "value"),
    ("effectiveDateTime", 20200101, "value"),    # pydantic: a timestamp
    ("valueString", ["a"], "structure"),
    ("valueQuantity", '{"value": 1}', "structure"),  # pydantic parses the JSON string
    ("valueQuantity", ["x"], "structure"),
    ("category", {"text": "x"}, "structure"),    # an object for an array
    ("valueString", None, "structure"),
    ("category", [], "structure"),
    ("valueQuantity", {}, "structure"),
    ("valueString", "", "value"),
])
def test_json_types_and_shapes_are_strict(v: FhirValidator, element: str, value: Any,
                                          code: str) -> None:
    check(v, {**OBS, element: value}, err(code, f"Observation.{element}"))


def test_a_decimal_given_as_a_string(v: FhirValidator) -> None:
    check(v, {**OBS, "valueQuantity": {"value": "6.3"}},
          err("value", "Observation.valueQuantity.value"))


def test_every_problem_is_reported_not_only_the_first(v: FhirValidator) -> None:
    obs = {"resourceType": "Observation", "code": {"text": "x", "bogus": 1},
           "valueString": "a", "valueBoolean": True, "effectiveDateTime": "2021-02-30",
           "subject": {"reference": "Patient/"}, "extra": True}
    check(v, obs, err("required", "Observation.status"),
          err("structure", "Observation.code.bogus"), err("invalid", "Observation.value"),
          err("value", "Observation.effectiveDateTime"),
          err("value", "Observation.subject.reference"), err("structure", "Observation.extra"))


@pytest.mark.parametrize(("element", "value"), [
    ("effectiveDateTime", "2021-13-01"), ("effectiveDateTime", "2021-02-30"),
    ("effectiveDateTime", "2021-02-03T10:00"), ("effectiveDateTime", "2021-02-03T10:00:00"),
    ("issued", "2021-02-03"), ("valueTime", "24:00:00"), ("valueInteger", 2**31),
    ("id", "a b"), ("id", "x" * 65), ("status", "final "),
])
def test_bad_primitive_values(v: FhirValidator, element: str, value: Any) -> None:
    issues = check(v, {**OBS, element: value}, err("value", f"Observation.{element}"))
    assert str(value)[:10] in issues[0].diagnostics


def test_required_primitives_and_choices_are_reported_next_to_other_errors(
        v: FhirValidator) -> None:
    request = {"resourceType": "MedicationRequest", "subject": {"reference": "Patient/p1"},
               "authoredOn": "yesterday"}
    check(v, request, err("required", "MedicationRequest.status"),
          err("required", "MedicationRequest.intent"),
          err("required", "MedicationRequest.medication"),
          err("value", "MedicationRequest.authoredOn"))


def test_python_field_names_are_not_json_names(v: FhirValidator) -> None:
    encounter = {"resourceType": "Encounter", "status": "finished", "class_fhir": {"code": "x"},
                 "status__ext": {"id": "a"}, "fhir_comments": ["hello"]}
    issues = check(v, encounter, err("structure", "Encounter.class_fhir"),
                   err("structure", "Encounter.status__ext"),
                   err("structure", "Encounter.fhir_comments"),
                   err("required", "Encounter.class"))
    assert any('write "class"' in i.diagnostics for i in issues)


# ------------------------------------------------------------------ primitive extensions


def test_primitive_extensions_are_accepted(v: FhirValidator) -> None:
    ext = {"extension": [{"url": "http://example.org/why", "valueCode": "masked"}]}
    check(v, {**PATIENT, "birthDate": "1970", "_birthDate": ext})
    check(v, {**PATIENT, "name": [{"given": ["A", None], "_given": [None, ext]}]})
    obs = {k: v for k, v in OBS.items() if k != "status"}
    check(v, {**obs, "_status": ext})  # the extension stands in for the required value


def test_primitive_extension_problems(v: FhirValidator) -> None:
    check(v, {**PATIENT, "name": [{"given": ["A", None]}]},
          err("structure", "Patient.name[0].given[1]"))
    check(v, {**PATIENT, "name": [{"given": ["A"], "_given": [None, None]}]},
          err("structure", "Patient.name[0].given"))
    check(v, {**PATIENT, "_birthDate": "1970"}, err("structure", "Patient.birthDate"))
    check(v, {**PATIENT, "_birthDate": {}}, err("structure", "Patient.birthDate"))
    check(v, {**PATIENT, "_birthDate": {"extension": [{"url": "u", "valueDate": "1970-02-30"}]}},
          err("value", "Patient.birthDate.extension[0].valueDate"))
    check(v, {**PATIENT, "_unknown": {"id": "x"}}, err("structure", "Patient._unknown"))


def test_primitive_extensions_of_extension_values(v: FhirValidator) -> None:
    """fhir.resources' R4B Extension model has no ``_valueString``: R4 allows it."""
    extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "a",
                 "_valueString": {"extension": [{"url": "http://example.org/y",
                                                 "valueBoolean": True}]}}
    check(v, {**PATIENT, "extension": [extension]})
    bad = copy.deepcopy(extension)
    bad["_valueString"]["extension"][0]["valueBoolean"] = "yes"
    check(v, {**PATIENT, "extension": [bad]},
          err("value", "Patient.extension[0].valueString.extension[0].valueBoolean"))


# ------------------------------------------------------------------ R4 vs R4B


def test_extension_value_meta_is_r4(v: FhirValidator) -> None:
    check(v, {**PATIENT, "extension": [{"url": "u", "valueMeta": {"versionId": "1"}}]})
    check(v, {**PATIENT, "extension": [{"url": "u", "valueMeta": {"lastUpdated": "today"}}]},
          err("value", "Patient.extension[0].valueMeta.lastUpdated"))


@pytest.mark.parametrize("element", ["valueCodeableReference", "valueRatioRange"])
def test_r4b_only_extension_values_are_unknown(v: FhirValidator, element: str) -> None:
    issues = check(v, {**PATIENT, "extension": [{"url": "u", element: {"text": "x"}}]},
                   err("structure", f"Patient.extension[0].{element}"))
    assert any("R4B, not in R4" in i.diagnostics for i in issues)


def test_observation_subject_targets_are_r4s(v: FhirValidator) -> None:
    for target in ("Patient", "Group", "Device", "Location"):
        check(v, {**OBS, "subject": {"reference": f"{target}/1"}})
    for target in ("Medication", "Organization", "Practitioner", "Procedure", "Substance"):
        check(v, {**OBS, "subject": {"reference": f"{target}/1"}},
              ("warning", "invalid", "Observation.subject"))


def test_contained_resources(v: FhirValidator) -> None:
    medication = {"resourceType": "Medication", "id": "m1", "status": "active"}
    request = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p1"}, "contained": [medication],
               "medicationReference": {"reference": "#m1"}}
    check(v, request)
    check(v, {**request, "contained": [{**medication, "status": "gone", "junk": 1}]},
          err("code-invalid", "MedicationRequest.contained[0].status"),
          err("structure", "MedicationRequest.contained[0].junk"))
    check(v, {**request, "contained": [{**medication, "id": "m2"}]},
          err("invalid", "MedicationRequest.medicationReference.reference"))  # no #m1
    check(v, {**request, "contained": [medication, {"id": "x"}, 5, {"resourceType": "Nope"},
                                       {"resourceType": "Citation"}]},
          err("structure", "MedicationRequest.contained[1]"),
          err("structure", "MedicationRequest.contained[2]"),
          err("structure", "MedicationRequest.contained[3].resourceType"),
          err("structure", "MedicationRequest.contained[4].resourceType"))
    check(v, {**request, "contained": [medication, {"resourceType": "MedicinalProduct"}]},
          ("warning", "not-supported", "MedicationRequest.contained[1]"))


# ------------------------------------------------------------------ codes


def test_codeable_concepts_with_required_bindings(v: FhirValidator) -> None:
    system = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
                 "code": {"text": "x"}}
    check(v, {**condition, "clinicalStatus": {"coding": [{"system": system, "code": "active"}]}})
    check(v, {**condition, "clinicalStatus": {"coding": [{"system": system, "code": "gone"}]}},
          err("code-invalid", "Condition.clinicalStatus.coding[0].code"))
    check(v, {**condition, "clinicalStatus": {"text": "active"}},
          err("code-invalid", "Condition.clinicalStatus"))
    check(v, {**condition, "clinicalStatus": {
        "coding": [{"system": "http://snomed.info/sct", "code": "55561003"},
                   {"system": system, "code": "active"}]}})


@pytest.mark.parametrize(("resource", "expression"), [
    ({**PATIENT, "gender": "M"}, "Patient.gender"),
    ({**PATIENT, "name": [{"use": "formal"}]}, "Patient.name[0].use"),
    ({**PATIENT, "telecom": [{"system": "mobile", "value": "1"}]}, "Patient.telecom[0].system"),
    ({"resourceType": "Encounter", "status": "done", "class": {"code": "AMB"}},
     "Encounter.status"),
    ({"resourceType": "MedicationRequest", "status": "active", "intent": "prescription",
      "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}},
     "MedicationRequest.intent"),
    ({"resourceType": "Bundle", "type": "bag"}, "Bundle.type"),
    ({**OBS, "valueQuantity": {"value": 1, "comparator": "~"}},
     "Observation.valueQuantity.comparator"),
])
def test_codes_outside_required_bindings(v: FhirValidator, resource: dict[str, Any],
                                         expression: str) -> None:
    check(v, resource, err("code-invalid", expression))


# ------------------------------------------------------------------ references


@pytest.mark.parametrize("reference", [
    "Patient/p1", "Patient/p1/_history/2", "http://example.org/fhir/Patient/p1",
    "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d", "urn:oid:1.2.3.4",
    "Patient?identifier=urn:ke:nid|123", "https://example.org/some/other/thing"])
def test_valid_references(v: FhirValidator, reference: str) -> None:
    check(v, {**OBS, "subject": {"reference": reference}})


@pytest.mark.parametrize("reference", [
    "Patient/", "Patient", "patient/p1", "Patinet/p1", "Patient/p 1", "not a reference",
    "urn:uuid:NOT-A-UUID", "urn:oid:1.x", "Patient/" + "x" * 65])
def test_malformed_references(v: FhirValidator, reference: str) -> None:
    check(v, {**OBS, "subject": {"reference": reference}},
          err("value", "Observation.subject.reference"))


def test_reference_type_and_local_references(v: FhirValidator) -> None:
    check(v, {**OBS, "subject": {"reference": "Patient/p1", "type": "Group"}},
          err("invalid", "Observation.subject.type"))
    check(v, {**OBS, "subject": {"reference": "#p"}}, err("invalid", "Observation.subject.reference"))
    check(v, {**OBS, "subject": {"reference": "#p"}, "contained": [{**PATIENT, "id": "p"}]})
    check(v, {**OBS, "subject": {"identifier": {"value": "1"}, "type": "Medication"}},
          ("warning", "invalid", "Observation.subject"))


# ------------------------------------------------------------------ other R4 formats


@pytest.mark.parametrize(("element", "value", "ok"), [
    ("valueUuid", "urn:uuid:c757873d-ec9a-1326-a141-556f43239520", True),  # not v4: R4 allows
    ("valueUuid", "c757873d-ec9a-4326-a141-556f43239520", False),
    ("valueBase64Binary", "aGVsbG8=", True),
    ("valueBase64Binary", "!!!!", False),
    ("valueUri", "http://example.org/a b", False),
    ("valueOid", "urn:oid:1.2.3", True),
    ("valueOid", "1.2.3", False),
])
def test_formats_fhir_resources_gets_wrong(v: FhirValidator, element: str, value: str,
                                           ok: bool) -> None:
    resource = {**PATIENT, "extension": [{"url": "http://example.org/x", element: value}]}
    expected = [] if ok else [err("value", f"Patient.extension[0].{element}")]
    check(v, resource, *expected)


def test_extension_must_have_a_value_or_extensions(v: FhirValidator) -> None:
    check(v, {**PATIENT, "extension": [{"url": "u"}]}, err("invalid", "Patient.extension[0]"))
    check(v, {**PATIENT, "extension": [{"url": "u", "valueString": "a",
                                        "extension": [{"url": "v", "valueString": "b"}]}]},
          err("invalid", "Patient.extension[0]"))
    check(v, {**PATIENT, "extension": [{"valueString": "a"}]},
          err("required", "Patient.extension[0].url"))


# ------------------------------------------------------------------ bad input never raises


def test_deep_nesting_is_refused_not_crashed(v: FhirValidator) -> None:
    extension: dict[str, Any] = {"url": "u", "valueString": "x"}
    for _ in range(300):
        extension = {"url": "u", "extension": [extension]}
    issues = v.validate({**PATIENT, "extension": [extension]})
    assert [i.code for i in issues] == ["structure"]


def test_odd_python_values_never_raise(v: FhirValidator) -> None:
    odd: list[Any] = [{1: 2}, {"resourceType": "Patient", 1: 2}, {"resourceType": "Patient",
                      "name": {1, 2}}, {"resourceType": "Patient", "birthDate": b"1970"},
                      {"resourceType": "Patient", "active": float("nan")},
                      {"resourceType": "Observation", "contained": [{"resourceType": ["x"]}]},
                      {"resourceType": "Bundle", "entry": [{"resource": [1]}, None, {}]}]
    for resource in odd:
        issues = v.validate(resource)
        assert issues and all(i.severity == "error" for i in issues), resource
        json.dumps(operation_outcome(issues))


def test_random_damage_never_raises(r4_examples: Path, validator: FhirValidator) -> None:
    rng = random.Random(20240601)
    sources = [load(p) for p in sorted(r4_examples.glob("Observation-*.json"))[:20]]
    junk: list[Any] = [None, "", 0, -1, 1.5, True, [], {}, [None], {"": None}, "x" * 300,
                       {"resourceType": "Patient"}, [{"resourceType": 1}]]
    for _ in range(600):
        resource = copy.deepcopy(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            node: Any = resource
            for _ in range(rng.randint(0, 4)):
                children = (list(node.items()) if isinstance(node, dict) else
                            list(enumerate(node)) if isinstance(node, list) else [])
                if not children:
                    break
                _key, child = rng.choice(children)
                if not isinstance(child, dict | list):
                    break
                node = child
            if isinstance(node, dict) and node:
                node[rng.choice([*node, "zzz"])] = rng.choice(junk)
            elif isinstance(node, list) and node:
                node[rng.randrange(len(node))] = rng.choice(junk)
        issues = validator.validate(resource)
        assert all(isinstance(i, Issue) and i.severity != "fatal" for i in issues), issues


def test_the_input_is_never_modified(small_examples: dict[str, list[tuple[str, dict[str, Any]]]],
                                     validator: FhirValidator) -> None:
    for resources in small_examples.values():
        for _name, resource in resources[:5]:
            before = copy.deepcopy(resource)
            damaged = {**resource, "contained": [{"resourceType": "Nope"}], "x": None}
            validator.validate(resource)
            validator.validate(damaged)
            assert resource == before


def test_it_implements_the_port() -> None:
    port: ResourceValidator = FhirValidator()  # mypy checks the signature
    assert port.validate({"resourceType": "Patient", "id": "p"}) == []
