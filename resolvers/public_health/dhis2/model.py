"""What the gateway sends to DHIS2 and what DHIS2 answers, in the gateway's own terms.

A push is a ``dataValueSet`` (standards.md 3.1): a header (data set, period, org unit,
complete date) and data values, each a data element, category option combo and a value sent
as a string. DHIS2 answers an ImportSummary (3.2): counts imported, updated, ignored and
deleted, and conflicts naming the object, the value and an ``E7xxx`` code. A summary with
conflicts is a partial failure, shown value by value, never a success.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ImportStrategy(StrEnum):
    CREATE_AND_UPDATE = "CREATE_AND_UPDATE"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True)
class DataValue:
    data_element: str
    value: str
    category_option_combo: str | None = None
    attribute_option_combo: str | None = None
    comment: str | None = None
    period: str | None = None  # per value, where it differs from the header
    org_unit: str | None = None


@dataclass(frozen=True)
class DataValueSet:
    period: str
    org_unit: str
    values: tuple[DataValue, ...]
    data_set: str | None = None
    complete_date: str | None = None  # yyyy-MM-dd

    def as_json(self) -> dict[str, Any]:
        """The JSON body of ``POST /api/dataValueSets``; values always as strings."""
        body: dict[str, Any] = {}
        if self.period:  # else each value names its period
            body["period"] = self.period
        if self.org_unit:  # else each value names its org unit
            body["orgUnit"] = self.org_unit
        if self.data_set:
            body["dataSet"] = self.data_set
        if self.complete_date:
            body["completeDate"] = self.complete_date
        rows = []
        for v in self.values:
            row: dict[str, Any] = {"dataElement": v.data_element, "value": str(v.value)}
            for key, item in (("categoryOptionCombo", v.category_option_combo),
                              ("attributeOptionCombo", v.attribute_option_combo),
                              ("comment", v.comment), ("period", v.period),
                              ("orgUnit", v.org_unit)):
                if item is not None:
                    row[key] = item
            rows.append(row)
        body["dataValues"] = rows
        return body


@dataclass(frozen=True)
class Conflict:
    """One refused value or object: what DHIS2 named, why, and where in the pushed values."""

    object: str | None
    message: str
    error_code: str | None = None
    property: str | None = None
    indexes: tuple[int, ...] = ()


@dataclass(frozen=True)
class ImportSummary:
    status: str  # SUCCESS, WARNING or ERROR
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: tuple[Conflict, ...] = ()
    description: str | None = None
    data_set_complete: str | None = None
    http_status: int = 200
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def complete_success(self) -> bool:
        """Everything was taken: SUCCESS, no conflicts and nothing ignored."""
        return self.status == "SUCCESS" and not self.conflicts and not self.ignored


class Dhis2Error(Exception):
    """DHIS2 could not take the push; ``retry`` says whether sending again may help."""

    retry = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Dhis2Unavailable(Dhis2Error):
    """Unreachable, slow, or a 5xx: the outbox sends again later."""

    retry = True


class Dhis2Refused(Dhis2Error):
    """Bad credentials (401), no authority (403), or a payload DHIS2 cannot read (400,
    415): sending the same again cannot help, so the push is a dead letter with this
    reason."""


def data_value_set_of(body: dict[str, Any]) -> DataValueSet:
    """A DataValueSet back from :meth:`DataValueSet.as_json` (as a push keeps it)."""
    return DataValueSet(
        period=str(body.get("period") or ""), org_unit=str(body.get("orgUnit") or ""),
        data_set=body.get("dataSet"), complete_date=body.get("completeDate"),
        values=tuple(DataValue(
            data_element=str(v["dataElement"]), value=str(v["value"]),
            category_option_combo=v.get("categoryOptionCombo"),
            attribute_option_combo=v.get("attributeOptionCombo"), comment=v.get("comment"),
            period=v.get("period"), org_unit=v.get("orgUnit"))
            for v in body.get("dataValues") or []))


class PushState(StrEnum):
    QUEUED = "queued"  # in the outbox, not yet sent
    RETRYING = "retrying"  # DHIS2 was unreachable, slow or 5xx; the outbox sends again
    SUCCESS = "success"  # every value taken
    PARTIAL = "partial"  # some values refused (conflicts) or ignored: see the summary
    DEAD = "dead"  # refused for good (401, 403, 400, ...): a dead letter with the reason


@dataclass(frozen=True)
class PushRecord:
    id: str
    instance_url: str
    data_set: str  # the mapping's key
    period: str
    org_unit: str | None  # None: every mapped org unit
    dry_run: bool
    import_strategy: ImportStrategy
    state: PushState
    payload: dict[str, Any]  # the dataValueSet sent, fixed when the push was asked for
    created_by: str
    created_at: Any
    updated_at: Any
    attempts: int = 0
    summary: dict[str, Any] | None = None  # DHIS2's import summary, in summary_view's shape
    last_error: str | None = None


def summary_view(summary: ImportSummary) -> dict[str, Any]:
    """What a push keeps of DHIS2's answer: status, counts and each conflict."""
    return {"status": summary.status, "http_status": summary.http_status,
            "description": summary.description,
            "import_count": {"imported": summary.imported, "updated": summary.updated,
                             "ignored": summary.ignored, "deleted": summary.deleted},
            "conflicts": [{"object": c.object, "value": c.message, "error_code": c.error_code,
                           "property": c.property, "indexes": list(c.indexes)}
                          for c in summary.conflicts]}
