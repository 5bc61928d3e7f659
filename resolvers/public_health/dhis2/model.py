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
        body: dict[str, Any] = {"period": self.period, "orgUnit": self.org_unit}
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
