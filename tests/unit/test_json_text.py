"""Documents stored as JSON text (adapters/db/json_text.py) read back as what was stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.db.json_text import json_text


@pytest.mark.parametrize("value", [
    {"resourceType": "Observation", "valueQuantity": {"value": 4.1, "unit": "mmol/L"},
     "interpretation": [{"coding": [{"code": "N"}]}], "note": None, "flag": True},
    {"name": [{"family": "Ngũgĩ", "given": ["Wanjikũ"]}], "text": "Kiswahili: ḿ ✓ 🩺"},
    {"big": 2 ** 70, "small": -1, "zero": 0.0, "exp": 1.5e-300},
    [1, "two", [3], {"four": 4}],
    {"quote": "a \"b\" \\ c\nd\te\u0000"},
])
def test_json_text_reads_back_equal(value: Any) -> None:
    text = json_text(value)
    assert json.loads(text) == value
    assert list(json.loads(text)) == list(value)  # key order kept


def test_values_msgspec_refuses_go_to_the_json_module() -> None:
    class Odd:
        pass

    with pytest.raises(TypeError):
        json_text({"x": Odd()})  # neither can: the json module's own error
