"""Critical (panic) laboratory values: which results must reach a clinician at once.

Limits are for adults, in the units given; a result is critical when it is at or beyond a
limit. Sources are cited per analyte. Local laboratories may publish their own table; these
are the widely used defaults. The sender's own flags HH, LL and AA (HL7 table 0078) are
always critical, whatever the table says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CRITICAL_FLAGS = frozenset({"HH", "LL", "AA"})

KAMAL = "Kamal T. et al., 'Critical values in laboratory medicine', and CAP Q-Probes survey"
CAP = "College of American Pathologists, Q-Tracks/Q-Probes critical value survey (Wagar 2007)"
MAYO = "Mayo Clinic Laboratories, Critical Values / Critical Results list (2024)"
WHO_HB = "WHO, Haemoglobin concentrations for the diagnosis of anaemia (2011)"


@dataclass(frozen=True)
class CriticalLimit:
    loinc: str
    name: str
    unit: str
    low: float | None
    high: float | None
    source: str


CRITICAL_LIMITS: tuple[CriticalLimit, ...] = (
    CriticalLimit("2823-3", "Potassium", "mmol/L", 2.8, 6.2, MAYO),
    CriticalLimit("6298-4", "Potassium (blood)", "mmol/L", 2.8, 6.2, MAYO),
    CriticalLimit("2951-2", "Sodium", "mmol/L", 120, 160, MAYO),
    CriticalLimit("2947-0", "Sodium (blood)", "mmol/L", 120, 160, MAYO),
    CriticalLimit("2345-7", "Glucose", "mg/dL", 40, 450, CAP),
    CriticalLimit("15074-8", "Glucose", "mmol/L", 2.2, 25.0, CAP),
    CriticalLimit("718-7", "Hemoglobin", "g/dL", 6.0, 20.0, MAYO),
    CriticalLimit("20509-6", "Hemoglobin (calculated)", "g/dL", 6.0, 20.0, MAYO),
    CriticalLimit("777-3", "Platelets", "10*3/uL", 20, 1000, MAYO),
    CriticalLimit("6690-2", "Leukocytes (WBC)", "10*3/uL", 2.0, 50.0, CAP),
    CriticalLimit("6301-6", "INR", "{INR}", None, 5.0, MAYO),
    CriticalLimit("34714-6", "INR", "{INR}", None, 5.0, MAYO),
    CriticalLimit("17861-6", "Calcium", "mg/dL", 6.0, 13.0, MAYO),
    CriticalLimit("2000-8", "Calcium", "mmol/L", 1.5, 3.25, MAYO),
    CriticalLimit("2160-0", "Creatinine", "mg/dL", None, 7.4, CAP),
    CriticalLimit("2524-7", "Lactate", "mmol/L", None, 4.0, MAYO),
    CriticalLimit("2019-8", "pCO2 (arterial)", "mm[Hg]", 20, 70, CAP),
    CriticalLimit("2744-1", "pH (arterial)", "[pH]", 7.2, 7.6, CAP),
    CriticalLimit("2601-3", "Magnesium", "mg/dL", 1.0, 4.7, MAYO),
    CriticalLimit("2777-1", "Phosphate", "mg/dL", 1.0, None, MAYO),
    CriticalLimit("1975-2", "Bilirubin total (neonatal)", "mg/dL", None, 15.0, CAP),
    CriticalLimit("3255-7", "Fibrinogen", "mg/dL", 100, None, MAYO),
)
_BY_CODE = {limit.loinc: limit for limit in CRITICAL_LIMITS}
_UNIT_ALIASES = {"mmol/l": "mmol/L", "mg/dl": "mg/dL", "g/dl": "g/dL", "10^3/ul": "10*3/uL",
                 "10*9/l": "10*3/uL", "x10^9/l": "10*3/uL", "10^9/l": "10*3/uL",
                 "inr": "{INR}", "ratio": "{INR}", "mmhg": "mm[Hg]", "": ""}


@dataclass(frozen=True)
class CriticalFinding:
    code: str
    critical: bool
    direction: str | None  # "low" | "high" | "abnormal" | None
    reason: str
    source: str | None


def _unit(unit: str) -> str:
    return _UNIT_ALIASES.get(unit.strip().lower(), unit.strip())


def assess(code: str, value: float | None, unit: str = "",
           flags: Iterable[str] = ()) -> CriticalFinding:
    """Is this result critical? By the sender's flags first, then by the table."""
    raised = sorted(set(flags) & CRITICAL_FLAGS)
    if raised:
        direction = {"HH": "high", "LL": "low"}.get(raised[0], "abnormal")
        return CriticalFinding(code, True, direction,
                               f"the laboratory flagged it {'/'.join(raised)}", "HL7 table 0078")
    limit = _BY_CODE.get(code)
    if limit is None or value is None:
        return CriticalFinding(code, False, None,
                               "no critical limit for this code" if limit is None
                               else "no numeric value", None)
    if unit and _unit(unit) != limit.unit:
        return CriticalFinding(code, False, None, f"unit {unit!r} differs from the table's "
                               f"{limit.unit!r}; not compared", limit.source)
    if limit.low is not None and value <= limit.low:
        return CriticalFinding(code, True, "low", f"{limit.name} {value} {limit.unit} is at or "
                               f"below the critical limit {limit.low}", limit.source)
    if limit.high is not None and value >= limit.high:
        return CriticalFinding(code, True, "high", f"{limit.name} {value} {limit.unit} is at or "
                               f"above the critical limit {limit.high}", limit.source)
    return CriticalFinding(code, False, None, "within critical limits", limit.source)
