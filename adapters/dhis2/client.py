"""The DHIS2 Web API client: data value sets in, import summaries out.

Requests go through the gateway's shared, guarded ``httpx.AsyncClient`` (adapters/http), so
the outbound allow-list and the timeouts apply. Credentials come from settings: Basic
(``user:password``, HTTPS only outside tests) or a personal access token
(``Authorization: ApiToken d2pat_...``).

How answers are read (standards.md 3.2):
- ``200`` with a WebMessage (``response`` holds the ImportSummary) or, from older servers, a
  bare ImportSummary (``importSummary`` or the summary itself): both give an ImportSummary.
- ``409`` is not a transport failure: the body holds the summary with its conflicts
  (status WARNING or ERROR), returned as such.
- ``401`` and ``403``: :class:`Dhis2Refused` (a dead letter; a retry cannot fix
  credentials). ``400`` and ``415``: :class:`Dhis2Refused` with DHIS2's message.
- ``5xx``, timeouts and connection failures: :class:`Dhis2Unavailable` (the outbox retries).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from resolvers.public_health.dhis2.model import (
    Conflict,
    DataValueSet,
    Dhis2Refused,
    Dhis2Unavailable,
    ImportStrategy,
    ImportSummary,
)


@dataclass(frozen=True)
class Dhis2Credentials:
    """Basic (``username`` and ``password``) or a personal access token (``api_token``)."""

    username: str | None = None
    password: str | None = None
    api_token: str | None = None

    def header(self) -> str:
        if self.api_token:
            return f"ApiToken {self.api_token}"
        if self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        raise ValueError("a DHIS2 instance needs a username and password, or an API token")


class Dhis2Client:
    def __init__(self, http: httpx.AsyncClient, base_url: str, credentials: Dhis2Credentials,
                 *, timeout_seconds: float = 30.0) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._auth = credentials.header()
        self._timeout = timeout_seconds

    @property
    def base_url(self) -> str:
        return self._base

    async def push_data_values(self, data: DataValueSet, *, dry_run: bool = False,
                               strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
                               ) -> ImportSummary:
        params = {"dryRun": "true" if dry_run else "false", "importStrategy": strategy.value,
                  "async": "false"}
        response = await self._send("POST", "/api/dataValueSets", params=tuple(params.items()),
                                    body=data.as_json())
        if response.status_code in (200, 201, 409):
            return summary_of(_json(response), response.status_code)
        raise _refusal_or_outage(response)

    async def push_tracker(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /api/tracker``: synchronous, CREATE_AND_UPDATE (a known event UID is
        updated), each event on its own (atomicMode OBJECT). 200 or 409 with the report."""
        params = (("async", "false"), ("importStrategy", "CREATE_AND_UPDATE"),
                  ("atomicMode", "OBJECT"))
        response = await self._send("POST", "/api/tracker", params=params, body=body)
        if response.status_code in (200, 409):
            found = _json(response)
            return response.status_code, found if isinstance(found, dict) else {}
        raise _refusal_or_outage(response)

    async def system_info(self) -> dict[str, Any]:
        response = await self._send("GET", "/api/system/info")
        if response.status_code == 200:
            found = _json(response)
            return found if isinstance(found, dict) else {}
        raise _refusal_or_outage(response)

    async def data_values(self, data_set: str, period: str,
                          org_units: Sequence[str]) -> list[dict[str, Any]]:
        """``GET /api/dataValueSets?dataSet=&period=&orgUnit=...`` (one orgUnit per unit)."""
        params = (("dataSet", data_set), ("period", period), *(("orgUnit", u) for u in org_units))
        response = await self._send("GET", "/api/dataValueSets", params=params)
        if response.status_code != 200:
            raise _refusal_or_outage(response)
        found = _json(response)
        rows = found.get("dataValues") if isinstance(found, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    async def metadata_ids(self, kind: str) -> set[str]:
        """The ids of one metadata listing (``dataSets``, ``dataElements``,
        ``organisationUnits``, ``categoryOptionCombos``), unpaged."""
        response = await self._send("GET", f"/api/{kind}",
                                    params=(("fields", "id"), ("paging", "false")))
        if response.status_code != 200:
            raise _refusal_or_outage(response)
        found = _json(response)
        items = found.get(kind) if isinstance(found, dict) else None
        return {str(i["id"]) for i in items or [] if isinstance(i, dict) and i.get("id")}

    async def org_units(self) -> list[dict[str, Any]]:
        """Every org unit with its name, level and parent (``GET /api/organisationUnits``),
        unpaged."""
        response = await self._send("GET", "/api/organisationUnits", params=(
            ("fields", "id,name,level,parent"), ("paging", "false")))
        if response.status_code != 200:
            raise _refusal_or_outage(response)
        found = _json(response)
        items = found.get("organisationUnits") if isinstance(found, dict) else None
        return [i for i in items or [] if isinstance(i, dict) and i.get("id")]

    async def _send(self, method: str, path: str, *,
                    params: tuple[tuple[str, str], ...] = (),
                    body: Any = None) -> httpx.Response:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        try:
            return await self._http.request(method, self._base + path,
                                            params=httpx.QueryParams(params),
                                            content=content, headers=headers,
                                            timeout=self._timeout)
        except httpx.TimeoutException:
            raise Dhis2Unavailable(f"DHIS2 did not answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise Dhis2Unavailable(f"DHIS2 could not be reached: {type(exc).__name__}") from None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Dhis2Unavailable(f"DHIS2 answered {response.status_code} with a body that is "
                               "not JSON", status=response.status_code) from None


def _refusal_or_outage(response: httpx.Response) -> Exception:
    status = response.status_code
    try:
        message = str(response.json().get("message") or "")
    except (ValueError, AttributeError):
        message = ""
    if status in (401, 403):
        what = "the credentials were refused" if status == 401 else "the user lacks authority"
        return Dhis2Refused(f"DHIS2 answered {status}: {what}"
                            + (f" ({message})" if message else ""), status=status)
    if status in (400, 404, 413, 415, 422):
        return Dhis2Refused(f"DHIS2 answered {status}: {message or 'the request was refused'}",
                            status=status)
    return Dhis2Unavailable(f"DHIS2 answered {status}", status=status)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def summary_of(body: Any, http_status: int) -> ImportSummary:
    """An ImportSummary from either answer shape: a WebMessage holding it in ``response``,
    or the bare summary of older servers (``importSummary`` or the summary itself)."""
    if not isinstance(body, dict):
        raise Dhis2Unavailable(f"DHIS2 answered {http_status} without an import summary",
                               status=http_status)
    summary: dict[str, Any] = body
    for key in ("response", "importSummary"):  # a WebMessage, or an older bare summary
        if isinstance(body.get(key), dict):
            summary = body[key]
            break
    found = summary.get("importCount")
    counts: dict[str, Any] = found if isinstance(found, dict) else {}
    conflicts = []
    for c in summary.get("conflicts") or []:
        if not isinstance(c, dict):
            continue
        named = c.get("objects")
        objects: dict[str, Any] = named if isinstance(named, dict) else {}
        conflicts.append(Conflict(
            object=str(c.get("object") or next(iter(objects.values()), "")) or None,
            message=str(c.get("value") or c.get("message") or ""),
            error_code=c.get("errorCode"), property=c.get("property"),
            indexes=tuple(i for i in c.get("indexes") or [] if isinstance(i, int))))
    status = str(summary.get("status") or body.get("status") or
                 ("SUCCESS" if http_status < 300 else "ERROR")).upper()
    if status == "OK":
        status = "SUCCESS"
    return ImportSummary(
        status=status, imported=_int(counts.get("imported")), updated=_int(counts.get("updated")),
        ignored=_int(counts.get("ignored")), deleted=_int(counts.get("deleted")),
        conflicts=tuple(conflicts), description=summary.get("description"),
        data_set_complete=(str(summary["dataSetComplete"]) if summary.get("dataSetComplete")
                           not in (None, False, "false") else None),
        http_status=http_status, raw=body)
