"""The mapping file's ``surveillance`` object (use case 3), read and checked::

    "surveillance": {"program": "<uid>", "programStage": "<uid>", "method": "C2",
                     "sdFloor": 1.0, "dataSet": "idsr_weekly",
                     "dataElements": {"syndrome": "<uid>", "cases": "<uid>",
                                      "expected": "<uid>", "statistic": "<uid>",
                                      "method": "<uid>"}}

``program``, ``programStage`` and the ``syndrome`` and ``cases`` data elements are required;
``expected``, ``statistic`` and ``method`` are optional; ``method`` one of C1, C2, C3 (default
C2); ``sdFloor`` a positive number (default 1); ``dataSet`` a data set of the mapping (the
IDSR counts sent with the alerts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from resolvers.public_health.surveillance.model import (
    EVENT_FIELDS,
    METHODS,
    SurveillanceMapping,
)

REQUIRED = ("syndrome", "cases")


def parse_surveillance(raw: Any, data_sets: Mapping[str, Any], problems: list[str],
                       uid: Callable[[Any, str, list[str]], str]) -> SurveillanceMapping | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append("surveillance: expected an object")
        return None
    elements = raw.get("dataElements")
    if not isinstance(elements, dict):
        problems.append("surveillance.dataElements: expected an object")
        elements = {}
    for key in REQUIRED:
        if key not in elements:
            problems.append(f"surveillance.dataElements.{key}: required")
    for key in sorted(set(elements) - set(EVENT_FIELDS)):
        problems.append(f"surveillance.dataElements.{key}: unknown (known: "
                        f"{', '.join(EVENT_FIELDS)})")
    method = raw.get("method", "C2")
    if method not in METHODS:
        problems.append(f"surveillance.method: {method!r} is not one of {', '.join(METHODS)}")
        method = "C2"
    floor = raw.get("sdFloor", 1.0)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or floor <= 0:
        problems.append(f"surveillance.sdFloor: {floor!r} is not a positive number")
        floor = 1.0
    data_set = raw.get("dataSet")
    if data_set is not None and data_set not in data_sets:
        problems.append(f"surveillance.dataSet: {data_set!r} is not a data set of the mapping")
        data_set = None
    return SurveillanceMapping(
        program=uid(raw.get("program"), "surveillance.program", problems),
        program_stage=uid(raw.get("programStage"), "surveillance.programStage", problems),
        data_elements={k: uid(v, f"surveillance.dataElements.{k}", problems)
                       for k, v in elements.items() if k in EVENT_FIELDS},
        method=str(method), sd_floor=float(floor), data_set=data_set)
