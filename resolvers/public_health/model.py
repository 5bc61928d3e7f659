"""Public-health indicators and the per-country DHIS2 mapping, in the gateway's own terms.

An *indicator* is something the gateway computes from the clinical data it holds (the
definitions, with numerator, denominator and codes, are in :data:`INDICATORS` and the
README). The *mapping* says where each indicator goes in one country's DHIS2: a data element
and category option combo, the data sets that carry it (with their period type), and which
DHIS2 org unit each of our Organizations is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from resolvers.public_health.periods import PeriodType as PeriodType  # re-exported for adapters
from resolvers.public_health.surveillance.model import SurveillanceMapping

# LOINC codes of malaria antigen tests (rapid diagnostic tests and antigen immunoassays):
# 70569-9 P. falciparum + P. vivax Ag panel, 70568-1 P. falciparum Ag, 70567-3 P. vivax Ag,
# 32700-7 Plasmodium sp Ag (identified), 51587-4 Plasmodium sp Ag, 75335-0 P. falciparum
# Ag (rapid immunoassay).
MALARIA_RDT_LOINC: tuple[str, ...] = ("70569-9", "70568-1", "70567-3", "32700-7", "51587-4",
                                      "75335-0")
LOINC = "http://loinc.org"

# An RDT result counts as positive when its value says so: valueCodeableConcept coded
# SNOMED CT 10828004 (Positive), LOINC LA6576-8 (Positive), 260373001 (Detected), or the
# v2 codes POS/DET; or a valueString of positive/detected/reactive/pos (any case); or an
# interpretation POS, DET or A (abnormal). Anything else (negative, invalid,
# indeterminate) is a test done and not a positive.
POSITIVE_CODES: tuple[str, ...] = ("10828004", "LA6576-8", "260373001", "POS", "DET")
POSITIVE_STRINGS: tuple[str, ...] = ("positive", "detected", "reactive", "pos")
POSITIVE_INTERPRETATIONS: tuple[str, ...] = ("POS", "DET", "A")
# Observation statuses that do not count (never a result, or withdrawn).
EXCLUDED_STATUSES: tuple[str, ...] = ("entered-in-error", "cancelled", "registered",
                                      "preliminary")


# IDSR priority diseases (use case 1) by ICD-10 three-character category: a Condition coded
# (system http://hl7.org/fhir/sid/icd-10, or none) within a group counts for it.
ICD10 = "http://hl7.org/fhir/sid/icd-10"
IDSR_GROUPS: dict[str, tuple[str, ...]] = {
    "IDSR_MALARIA": ("B50", "B51", "B52", "B53", "B54"),
    "IDSR_CHOLERA": ("A00",),
    "IDSR_MEASLES": ("B05",),
    "IDSR_MENINGITIS": ("A39", "G00", "G01", "G02", "G03"),
    "IDSR_TB": ("A15", "A16", "A17", "A18", "A19"),
    "IDSR_TYPHOID": ("A01",),
}
# Age at onset in completed years, and the patient's administrative gender.
AGE_BANDS: tuple[str, ...] = ("0-4", "5-14", "15+")
SEXES: tuple[str, ...] = ("female", "male")
UNKNOWN = "unknown"  # age or sex not known (or another gender): only if the mapping has it
# Conditions that do not count: refuted or entered in error.
EXCLUDED_VERIFICATION: tuple[str, ...] = ("refuted", "entered-in-error")


# Vaccination doses (use case 2), by CVX code (http://hl7.org/fhir/sid/cvx) of
# Immunization.vaccineCode: antigen -> (CVX codes, dose numbers reported; () = one dose).
CVX = "http://hl7.org/fhir/sid/cvx"
ANTIGENS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "BCG": (("19",), ()),
    "OPV": (("02", "178", "179"), (1, 2, 3)),
    "IPV": (("10",), ()),
    "PENTA": (("102",), (1, 2, 3)),  # DTwP-HepB-Hib
    "PCV": (("133", "152", "215"), (1, 2, 3)),
    "ROTA": (("116", "119", "122"), (1, 2)),
    "MR": (("03", "04", "05"), (1, 2)),  # MMR, M/R, measles
}


# Maternal and child health (use case 4): Encounter.type[0] coded SNOMED CT, birth weight
# LOINC; MCH_* indicators, counted per facility by the database (see the README).
SNOMED = "http://snomed.info/sct"
ANC_INITIAL = ("424441002",)  # Prenatal initial visit
ANC_VISITS = ("424441002", "424619006", "424525001")  # initial, prenatal, antenatal care
DELIVERY = ("236973005",)  # Delivery procedure (a facility delivery encounter)
BIRTH_WEIGHT_LOINC = ("8339-4",)  # Birth weight Measured
LOW_BIRTH_WEIGHT_GRAMS = 2500
ANC_WINDOW_DAYS = 300  # an ANC4 counts the visits from this many days before the period
MCH_COUNTS: tuple[str, ...] = ("MCH_ANC1", "MCH_ANC4", "MCH_FACILITY_DELIVERIES",
                               "MCH_BIRTHS_WEIGHED", "MCH_LBW", "MCH_U5_VISITS")
EXCLUDED_ENCOUNTERS: tuple[str, ...] = ("planned", "cancelled", "entered-in-error")


COVERAGE = "_COVERAGE"  # IMM_<antigen><dose>_COVERAGE: that dose's coverage in percent


def dose_indicator(antigen: str, dose: int | None) -> str | None:
    """IMM_<ANTIGEN><dose> (IMM_BCG for a one-dose antigen); None for a dose not reported."""
    _codes, doses = ANTIGENS[antigen]
    if not doses:
        return f"IMM_{antigen}"
    return f"IMM_{antigen}{dose}" if dose in doses else None


def disaggregation_keys() -> tuple[str, ...]:
    """The ``band|sex`` keys a disaggregated indicator maps to category option combos."""
    return tuple(f"{band}|{sex}" for band in AGE_BANDS for sex in SEXES)


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    numerator: str
    denominator: str
    codes: str
    value_type: str = "INTEGER_ZERO_OR_POSITIVE"  # or NUMBER (a percentage)


INDICATORS: dict[str, Indicator] = {i.code: i for i in (
    Indicator("MAL_RDT_TESTED", "Malaria RDTs done",
              "Observations with a malaria antigen LOINC code, effective in the period, of "
              "patients whose facility is the org unit, not entered-in-error, cancelled, "
              "registered or preliminary", "none (a count)", ", ".join(MALARIA_RDT_LOINC)),
    Indicator("MAL_RDT_POSITIVE", "Malaria RDTs positive",
              "Of MAL_RDT_TESTED, those whose value is positive (coded 10828004, LA6576-8, "
              "260373001, POS or DET; text positive/detected/reactive; or interpretation POS, "
              "DET or A)", "none (a count)", ", ".join(MALARIA_RDT_LOINC)),
    Indicator("MAL_RDT_POSITIVITY", "Malaria RDT positivity rate (%)",
              "MAL_RDT_POSITIVE x 100, one decimal", "MAL_RDT_TESTED (no value when 0)",
              ", ".join(MALARIA_RDT_LOINC), value_type="NUMBER"),
    *(Indicator(code, f"IDSR {code[5:].lower()} cases",
                "Conditions coded ICD-10 " + ", ".join(cats) + " (any subcategory), onset "
                "(the earliest indexed date: onset, else recorded) in the period, of patients "
                "whose facility is the org unit, not refuted or entered-in-error; by age band "
                "at onset (" + ", ".join(AGE_BANDS) + ") and sex", "none (a count)",
                ", ".join(cats)) for code, cats in IDSR_GROUPS.items()),
    Indicator("MCH_ANC1", "ANC 1st visits",
              "Encounters typed SNOMED 424441002 (prenatal initial visit), starting in the "
              "period, not planned, cancelled or entered-in-error", "none (a count)",
              "SNOMED 424441002"),
    Indicator("MCH_ANC4", "ANC 4th visits (women reaching 4+ visits)",
              "ANC Encounters (SNOMED 424441002, 424619006, 424525001) in the period that are "
              f"the patient's 4th ANC Encounter counted from {ANC_WINDOW_DAYS} days before the "
              "period start", "none (a count)", ", ".join(ANC_VISITS)),
    Indicator("MCH_FACILITY_DELIVERIES", "Facility deliveries",
              "Encounters typed SNOMED 236973005 (delivery procedure) starting in the period",
              "none (a count)", "SNOMED 236973005"),
    Indicator("MCH_BIRTHS_WEIGHED", "Births weighed",
              "Observations LOINC 8339-4 (birth weight) with a valueQuantity, effective in the "
              "period, not entered-in-error, cancelled, registered or preliminary",
              "none (a count)", "LOINC 8339-4"),
    Indicator("MCH_LBW", "Low birth weight (< 2500 g)",
              "Of MCH_BIRTHS_WEIGHED, those below 2500 g (a value in kg is read x 1000)",
              "none (a count)", "LOINC 8339-4"),
    Indicator("MCH_LBW_RATE", "Low birth weight rate (%)", "MCH_LBW x 100, one decimal",
              "MCH_BIRTHS_WEIGHED (no value when 0)", "LOINC 8339-4", value_type="NUMBER"),
    Indicator("MCH_U5_VISITS", "Under-5 visits",
              "Encounters of any type starting in the period of patients under 5 years "
              "(completed years at the start)", "none (a count)", "any Encounter"),
    *(Indicator(f"IMM_{antigen}{dose or ''}",
                f"{antigen} dose {dose}" if dose else f"{antigen} doses",
                f"Immunizations with status completed, vaccineCode CVX {', '.join(codes)}, "
                + (f"protocolApplied[0].doseNumberPositiveInt {dose}, " if dose else "")
                + "occurrence in the period, of patients whose facility is the org unit",
                "none (a count); coverage needs DHIS2's population, not pulled yet",
                ", ".join(codes))
      for antigen, (codes, doses) in ANTIGENS.items() for dose in (doses or (None,))),
    *(Indicator(f"IMM_{antigen}{dose or ''}{COVERAGE}",
                f"{antigen} dose {dose or ''} coverage (%)".replace("  ", " "),
                f"IMM_{antigen}{dose or ''} x 100, one decimal",
                "the org unit's target population for the year (pulled from DHIS2: the "
                "mapping's population data element, yearly period), times the period's "
                "share of the year in days; no value without a population",
                ", ".join(codes), value_type="NUMBER")
      for antigen, (codes, doses) in ANTIGENS.items() for dose in (doses or (None,))),
)}


@dataclass(frozen=True)
class IndicatorMapping:
    """Where one of our indicators goes: a DHIS2 data element and category option combo."""

    indicator: str
    data_element: str
    category_option_combo: str | None = None
    # Disaggregated indicators (IDSR): ``band|sex`` -> category option combo
    by_age_and_sex: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSetMapping:
    key: str  # our name, e.g. malaria_rdt (the ``dataset`` of the routes)
    uid: str  # the DHIS2 data set
    period_type: PeriodType
    indicators: tuple[str, ...]


@dataclass(frozen=True)
class PopulationMapping:
    """Where DHIS2 keeps the target population (a yearly value per org unit): coverage
    indicators take their denominator from it."""

    data_set: str
    data_element: str
    category_option_combo: str | None = None


@dataclass(frozen=True)
class Dhis2Mapping:
    country: str
    data_sets: dict[str, DataSetMapping]
    indicators: dict[str, IndicatorMapping]
    org_units: dict[str, str]  # our Organization id -> DHIS2 org unit uid
    source: str = ""  # the file it was read from
    population: PopulationMapping | None = None
    surveillance: SurveillanceMapping | None = None  # use case 3's tracker program

    def data_set(self, key_or_uid: str) -> DataSetMapping | None:
        found = self.data_sets.get(key_or_uid)
        if found is not None:
            return found
        return next((d for d in self.data_sets.values() if d.uid == key_or_uid), None)

    def organizations_of(self, org_unit: str) -> list[str]:
        """Our Organization ids mapped to a DHIS2 org unit (or named by our own id)."""
        if org_unit in self.org_units:
            return [org_unit]
        return sorted(o for o, uid in self.org_units.items() if uid == org_unit)


@dataclass(frozen=True)
class RdtCount:
    """Malaria RDTs of one facility in a date range, counted by the database."""

    organization_id: str
    tested: int
    positive: int


@dataclass(frozen=True)
class CaseCount:
    """Cases of one IDSR group in one facility, age band and sex, counted by the database."""

    organization_id: str
    indicator: str
    age_band: str  # one of AGE_BANDS, or UNKNOWN
    sex: str  # one of SEXES, or UNKNOWN
    cases: int


@dataclass(frozen=True)
class DoseCount:
    """Completed doses of one antigen and dose number in one facility (the database's)."""

    organization_id: str
    antigen: str  # a key of ANTIGENS
    dose: int | None
    doses: int


@dataclass(frozen=True)
class IndicatorCount:
    """One count indicator (e.g. MCH_ANC1) of one facility, counted by the database."""

    organization_id: str
    indicator: str
    count: int


@dataclass(frozen=True)
class OrgNode:
    """An Organization of the directory and its parent (the facility -> district -> region
    tree of the national dataset)."""

    id: str
    name: str
    part_of: str | None


@dataclass(frozen=True)
class DateRange:
    start: date  # inclusive
    end: date  # exclusive


@dataclass(frozen=True)
class IndicatorValue:
    indicator: str
    organization_id: str
    period: str
    value: str


@dataclass(frozen=True)
class ExportRequest:
    data_set: str | None = None
    period: str | None = None
    org_unit: str | None = None
    today: date | None = field(default=None, compare=False)
