"""A DHIS2 stand-in over real HTTP that follows the Web API's documented shapes
(standards.md section 3): what a ministry's DHIS2 instance answers the gateway.

- ``POST /api/dataValueSets`` (JSON): checks every value against the metadata (data element,
  org unit, category option combo, period form, value type) and stores what passes, keyed
  like DHIS2 (data element, period, org unit, category option combo, attribute option
  combo): a new key is *imported*, an existing one with another value *updated*, the same
  value *ignored*. ``dryRun`` stores nothing; ``importStrategy`` CREATE ignores existing
  keys, UPDATE ignores new ones, DELETE deletes. Answers a WebMessage: 200 with status OK
  when nothing was refused, else 409 with status WARNING (some taken) or ERROR (none) and
  the conflicts (``object``, ``value``, ``errorCode``, ``indexes``). ``legacy = True`` answers
  like older servers: 200 with a bare ``importSummary``.
- ``GET /api/dataValueSets?dataSet=&period=&orgUnit=``: the stored values (population data).
- ``GET /api/system/info``, ``/api/dataSets``, ``/api/dataElements``,
  ``/api/organisationUnits``: the metadata, paged as DHIS2 pages them.
- ``POST /api/tracker?async=false``: events, answered with a tracker import report.
- Auth: Basic ``user:password`` or ``ApiToken <token>``; anything else is 401.
- Faults: ``fail(path, status, times)`` and ``slow(path, seconds, times)``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import serving_app

PERIOD = re.compile(r"\d{4}(\d{2}(\d{2}|B)?|(Wed|Thu|Sat|Sun|Bi)?W\d{1,2}|Q[1-4]|"
                    r"(April|Nov)?S[12]|April|July|Oct|Nov)?")
Key = tuple[str, str, str, str, str]  # data element, period, org unit, coc, aoc
DEFAULT_COMBO = "HllvX50cXC0"  # DHIS2's default category option combo


@dataclass
class FakeDhis2:
    username: str = "admin"
    password: str = "district"
    api_token: str = "d2pat_testtoken0123456789abcdef0123456789"
    # uid -> value type (NUMBER, INTEGER, INTEGER_ZERO_OR_POSITIVE, TEXT, ...)
    data_elements: dict[str, str] = field(default_factory=dict)
    # uid -> {name, level, parent}
    org_units: dict[str, dict[str, Any]] = field(default_factory=dict)
    category_option_combos: set[str] = field(default_factory=lambda: {DEFAULT_COMBO})
    # uid -> {name, periodType, dataElements}
    data_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    legacy: bool = False
    base_url: str = ""
    values: dict[Key, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    tracker_params: list[dict[str, str]] = field(default_factory=list)  # each POST's query
    programs: dict[str, list[str]] = field(default_factory=dict)  # uid -> its stage uids
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    _faults: dict[str, deque[int]] = field(default_factory=dict)
    _delays: dict[str, deque[float]] = field(default_factory=dict)

    # -- knobs ---------------------------------------------------------------------------

    def fail(self, path: str, status: int, *, times: int = 1) -> None:
        self._faults.setdefault(path, deque()).extend([status] * times)

    def slow(self, path: str, seconds: float, *, times: int = 1) -> None:
        self._delays.setdefault(path, deque()).extend([seconds] * times)

    # -- plumbing ------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header == f"ApiToken {self.api_token}":
            return True
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.username, self.password)
        return False

    async def _gate(self, request: Request) -> tuple[Any, Response | None]:
        body: Any = None
        raw = await request.body()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return None, _message(400, "ERROR", "Bad Request",
                                      "JSON could not be parsed")
        self.requests.append((request.method, request.url.path, dict(request.headers), body))
        path = request.url.path
        if self._delays.get(path):
            await asyncio.sleep(self._delays[path].popleft())
        if self._faults.get(path):
            status = self._faults[path].popleft()
            return body, _message(status, "ERROR", "Internal Server Error" if status >= 500
                                  else "Error", f"injected {status}")
        if not self._authorised(request):
            return body, _message(401, "ERROR", "Unauthorized", "Unauthorized")
        return body, None

    # -- data values ---------------------------------------------------------------------

    def _check(self, row: dict[str, Any], header: dict[str, Any]) -> tuple[str, str, str] | None:
        """(object, message, error code) of a refused value, or None."""
        element = str(row.get("dataElement") or "")
        if element not in self.data_elements:
            return element, f"Data element not found or not accessible: `{element}`", "E7610"
        period = str(row.get("period") or header.get("period") or "")
        if not PERIOD.fullmatch(period):
            return period, f"Period not valid: `{period}`", "E7611"
        unit = str(row.get("orgUnit") or header.get("orgUnit") or "")
        if unit not in self.org_units:
            return unit, f"Organisation unit not found or not accessible: `{unit}`", "E7612"
        combo = str(row.get("categoryOptionCombo") or DEFAULT_COMBO)
        if combo not in self.category_option_combos:
            return combo, f"Category option combo not found: `{combo}`", "E7630"
        value = str(row.get("value", ""))
        kind = self.data_elements[element]
        if kind.startswith(("NUMBER", "INTEGER")):
            ok = re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
            if kind == "INTEGER_ZERO_OR_POSITIVE":
                ok = re.fullmatch(r"\d+", value) is not None
            if not ok:
                return element, f"Data value is not a valid {kind.lower()}: `{value}`", "E7619"
        return None

    async def post_data_value_sets(self, request: Request) -> Response:
        body, refused = await self._gate(request)
        if refused is not None:
            return refused
        if not isinstance(body, dict) or not isinstance(body.get("dataValues"), list):
            return _message(400, "ERROR", "Bad Request", "dataValues is missing")
        dry_run = request.query_params.get("dryRun", "false") == "true"
        strategy = request.query_params.get("importStrategy", "CREATE_AND_UPDATE")
        counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
        conflicts: list[dict[str, Any]] = []
        for index, row in enumerate(body["dataValues"]):
            problem = self._check(row if isinstance(row, dict) else {}, body)
            if problem is not None:
                obj, message, code = problem
                conflicts.append({"object": obj, "objects": {"dataValue": obj}, "value": message,
                                  "errorCode": code, "property": "value", "indexes": [index]})
                counts["ignored"] += 1
                continue
            key: Key = (row["dataElement"], str(row.get("period") or body["period"]),
                        str(row.get("orgUnit") or body["orgUnit"]),
                        str(row.get("categoryOptionCombo") or DEFAULT_COMBO),
                        str(row.get("attributeOptionCombo") or DEFAULT_COMBO))
            value, exists = str(row["value"]), key in self.values
            if strategy == "DELETE":
                counts["deleted" if exists else "ignored"] += 1
                if exists and not dry_run:
                    del self.values[key]
            elif (exists and strategy == "CREATE") or (not exists and strategy == "UPDATE"):
                counts["ignored"] += 1
            elif exists and self.values[key] == value:
                counts["ignored"] += 1
            else:
                counts["updated" if exists else "imported"] += 1
                if not dry_run:
                    self.values[key] = value
        taken = counts["imported"] + counts["updated"] + counts["deleted"]
        status = "SUCCESS" if not conflicts else "WARNING" if taken else "ERROR"
        summary = {"responseType": "ImportSummary", "status": status,
                   "description": "Import process completed successfully",
                   "importOptions": {"dryRun": dry_run, "importStrategy": strategy},
                   "importCount": counts, "conflicts": conflicts,
                   "dataSetComplete": body.get("completeDate") or "false"}
        if self.legacy:
            return JSONResponse({"importSummary": summary})
        code = 200 if not conflicts else 409
        return JSONResponse({"httpStatus": "OK" if code == 200 else "Conflict",
                             "httpStatusCode": code, "status": "OK" if code == 200 else status,
                             "message": "Import was successful." if code == 200 else
                             "One more conflicts encountered, please check import summary.",
                             "response": summary}, status_code=code)

    async def get_data_value_sets(self, request: Request) -> Response:
        _body, refused = await self._gate(request)
        if refused is not None:
            return refused
        p = request.query_params
        rows = [{"dataElement": k[0], "period": k[1], "orgUnit": k[2],
                 "categoryOptionCombo": k[3], "attributeOptionCombo": k[4], "value": v}
                for k, v in self.values.items()
                if (not p.get("period") or k[1] == p["period"])
                and (not p.get("orgUnit") or k[2] in p.getlist("orgUnit"))
                and (not p.get("dataSet") or k[0] in
                     self.data_sets.get(p["dataSet"], {}).get("dataElements", []))]
        return JSONResponse({"dataSet": p.get("dataSet"), "period": p.get("period"),
                             "orgUnit": p.get("orgUnit"), "dataValues": rows})

    # -- metadata and events --------------------------------------------------------------

    async def system_info(self, request: Request) -> Response:
        _body, refused = await self._gate(request)
        return refused or JSONResponse({"version": "2.40.3", "revision": "fake",
                                        "serverTimeZoneId": "Africa/Nairobi"})

    def _listing(self, name: str, items: list[dict[str, Any]]) -> Response:
        return JSONResponse({"pager": {"page": 1, "pageCount": 1, "total": len(items),
                                       "pageSize": max(50, len(items))}, name: items})

    async def metadata(self, request: Request) -> Response:
        _body, refused = await self._gate(request)
        if refused is not None:
            return refused
        kind = request.path_params["kind"]
        if kind == "dataElements":
            return self._listing(kind, [{"id": k, "valueType": v}
                                        for k, v in self.data_elements.items()])
        if kind == "organisationUnits":
            return self._listing(kind, [{"id": k, **v} for k, v in self.org_units.items()])
        if kind == "dataSets":
            return self._listing(kind, [{"id": k, **v} for k, v in self.data_sets.items()])
        if kind == "categoryOptionCombos":
            return self._listing(kind, [{"id": k} for k in sorted(self.category_option_combos)])
        if kind == "programs":
            return self._listing(kind, [{"id": k} for k in sorted(self.programs)])
        if kind == "programStages":
            return self._listing(kind, [{"id": s} for k in sorted(self.programs)
                                        for s in self.programs[k]])
        return _message(404, "ERROR", "Not Found", f"no such endpoint: {kind}")

    async def tracker(self, request: Request) -> Response:
        body, refused = await self._gate(request)
        if refused is not None:
            return refused
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            return _message(400, "ERROR", "Bad Request", "events are missing")
        self.tracker_params.append(dict(request.query_params))
        errors = [{"message": f"Organisation unit `{e.get('orgUnit')}` not found",
                   "errorCode": "E1011", "trackerType": "EVENT", "uid": e.get("event")}
                  for e in events if e.get("orgUnit") not in self.org_units]
        refused = {str(e["uid"]) for e in errors}
        # atomicMode OBJECT: the valid events are imported; ALL (the default): none when any
        # is refused.
        taken = ([e for e in events if str(e.get("event")) not in refused]
                 if request.query_params.get("atomicMode") == "OBJECT"
                 else [] if errors else events)
        created = updated = 0
        for e in taken:  # a known event UID is updated
            known = [i for i, old in enumerate(self.events)
                     if e.get("event") and old.get("event") == e.get("event")]
            if known:
                self.events[known[0]] = e
                updated += 1
            else:
                self.events.append(e)
                created += 1
        report = {"status": "ERROR" if errors else "OK",
                  "stats": {"created": created, "updated": updated,
                            "deleted": 0, "ignored": len(events) - len(taken),
                            "total": len(events)},
                  "validationReport": {"errorReports": errors, "warningReports": []}}
        return JSONResponse(report, status_code=409 if errors else 200)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/api/dataValueSets", self.post_data_value_sets, methods=["POST"]),
            Route("/api/dataValueSets", self.get_data_value_sets, methods=["GET"]),
            Route("/api/system/info", self.system_info, methods=["GET"]),
            Route("/api/tracker", self.tracker, methods=["POST"]),
            Route("/api/{kind}", self.metadata, methods=["GET"]),
        ])


def _message(status: int, state: str, http_status: str, message: str) -> JSONResponse:
    return JSONResponse({"httpStatus": http_status, "httpStatusCode": status, "status": state,
                         "message": message}, status_code=status)


@contextlib.asynccontextmanager
async def serving(fake: FakeDhis2) -> AsyncIterator[FakeDhis2]:
    """Serve ``fake`` on a free loopback port; ``fake.base_url`` is set while it runs."""
    async with serving_app(fake.app()) as base_url:
        fake.base_url = base_url
        yield fake
