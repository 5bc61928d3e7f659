"""The REST envelope's fast encoder writes what json.dumps would mean, for every JSON type
the routes hand it: dicts, lists, tuples, dataclasses (lab views), floats, huge integers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from resolvers.labs.view import LabResultView
from rest_compat.envelope import NativeJSONResponse, ok
from rest_compat.labs import LabResultItem


@dataclass(slots=True)
class _Pair:
    a: int
    b: tuple[str, ...]


def test_json_types_dataclasses_and_tuples_read_back_as_json_dumps_would_write() -> None:
    view = LabResultView("obs-1", "p-1", "2823-3", "http://loinc.org", "Potassium", "<6.9",
                         6.9, "mmol/L", ("HH", "A"), "3.5-5.1", "final", None, 3)
    content = {"items": [view, _Pair(1, ("x",))], "total": 2, "next": None,
               "f": [1.5e-7, 0.1, -0.0], "ok": True, "s": "Ngũgĩ \u2013 \"q\""}
    written = bytes(NativeJSONResponse(content).body)
    assert json.loads(written) == {
        "items": [{"id": "obs-1", "patient_id": "p-1", "code": "2823-3",
                   "code_system": "http://loinc.org", "display": "Potassium",
                   "value": "<6.9", "numeric_value": 6.9, "unit": "mmol/L",
                   "interpretation": ["HH", "A"], "reference_range": "3.5-5.1",
                   "status": "final", "effective": None, "version": 3},
                  {"a": 1, "b": ["x"]}],
        "total": 2, "next": None, "f": [1.5e-7, 0.1, -0.0], "ok": True,
        "s": "Ngũgĩ \u2013 \"q\""}
    # the view's fields are LabResultItem's, in its order, as the REST schema documents them
    assert list(json.loads(written)["items"][0]) == list(LabResultItem.model_fields)


def test_an_integer_past_64_bits_is_still_written() -> None:
    body = bytes(ok({"big": 2**70, "small": -(2**63)}, json_types_only=True).body)
    assert json.loads(body) == {"success": True, "data": {"big": 2**70, "small": -(2**63)}}
