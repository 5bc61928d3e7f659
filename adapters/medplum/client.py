"""Medplum FHIR R4 client: idempotent upserts, reads and searches.

Everything goes through the shared ``httpx.AsyncClient`` of the lifespan, so its timeouts
and the outbound allow-list apply. Medplum lives at ``{base}``: the token endpoint is
``{base}/oauth2/token`` and the FHIR base ``{base}/fhir/R4``. The rest of the adapter:

- :mod:`adapters.medplum.tokens`: the OAuth2 client-credentials token request (kept and
  renewed, also after a 401, by :class:`~adapters.http.token_cache.TokenCache`);
- :mod:`adapters.medplum.matching`: the match key an upsert finds Medplum's copy by, and the
  body Medplum gets;
- :mod:`adapters.medplum.errors`: the exception types, and which failures are worth retrying.

**Versions.** :meth:`MedplumClient.upsert` is a single conditional update: a replay never
duplicates, but an *older* version delivered after a newer one overwrites it. The outbox
can deliver out of order: retries have their own jittered backoff, and a batch is delivered
concurrently. :meth:`MedplumClient.upsert_versioned` prevents this. It stamps our version
as ``meta.tag`` ``urn:cari:gateway:version|<n>``, reads the current copy, and leaves it alone
when it is as new or newer. Otherwise it writes with ``If-Match`` on the version it read
(or ``If-None-Exist`` when there is no copy), so concurrent writers cannot interleave.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from adapters.http.token_cache import TokenCache
from adapters.medplum.errors import (
    MedplumInputError,
    MedplumMultipleMatches,
    MedplumTransientError,
    _VersionConflict,
    failure,
    json_object,
    send,
)
from adapters.medplum.matching import (
    ID_RE,
    TYPE_RE,
    MatchKey,
    match_key,
    prepare,
    resource_type_of,
    stored_version,
)
from adapters.medplum.tokens import fetch_token

log = logging.getLogger("cari.medplum")

FHIR_PATH = "/fhir/R4"
FHIR_JSON = "application/fhir+json"

_VERSIONED_ROUNDS = 3


@dataclass(frozen=True)
class Upserted:
    """What :meth:`MedplumClient.upsert_versioned` did, and Medplum's copy afterwards."""

    resource: dict[str, Any]
    action: Literal["created", "updated", "unchanged"]


class MedplumClient:
    """Medplum's FHIR R4 API for the gateway: read, search, upsert.

    ``clock`` (monotonic seconds) and ``refresh_margin_seconds`` set when a token is renewed:
    at ``expires_in`` minus the margin (at most half of the lifetime).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_margin_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        base = base_url.rstrip("/")
        self._fhir = base + FHIR_PATH
        self._tokens = TokenCache(functools.partial(fetch_token, http, base, client_id,
                                                    client_secret),
                                  margin_seconds=refresh_margin_seconds, clock=clock,
                                  name="medplum", logger=log)

    # -------------------------------------------------------------- transport

    async def _fhir_request(self, method: str, path: str, *, what: str,
                            params: Mapping[str, str] | None = None,
                            body: Mapping[str, Any] | None = None,
                            headers: Mapping[str, str] | None = None) -> httpx.Response:
        """A FHIR call with a bearer token; on 401 the token is renewed and the call sent
        once more. Returns any other answer unjudged."""
        all_headers = {"Accept": FHIR_JSON, **(headers or {})}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            all_headers["Content-Type"] = FHIR_JSON

        async def attempt(token: str) -> httpx.Response:
            return await send(
                self._http, method, f"{self._fhir}/{path}", params=params, content=content,
                headers={**all_headers, "Authorization": f"Bearer {token}"})

        return await self._tokens.call(attempt,
                                       refused=lambda response: response.status_code == 401)

    # -------------------------------------------------------------- API

    async def read(self, resource_type: str, id: str) -> dict[str, Any] | None:
        """``GET {fhir}/{type}/{id}``; None when Medplum has no such resource (404, 410)."""
        if not TYPE_RE.fullmatch(resource_type) or not ID_RE.fullmatch(id):
            raise MedplumInputError("not a valid FHIR resource type and id")
        what = f"a {resource_type} read"
        response = await self._fhir_request("GET", f"{resource_type}/{id}", what=what)
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise failure(response, what)
        return json_object(response, what)

    async def search(self, resource_type: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET {fhir}/{type}?...``: the matching resources of the first page."""
        if not TYPE_RE.fullmatch(resource_type):
            raise MedplumInputError("not a valid FHIR resource type")
        what = f"a {resource_type} search"
        response = await self._fhir_request("GET", resource_type, params=params, what=what)
        if response.status_code != 200:
            raise failure(response, what)
        bundle = json_object(response, what)
        found: list[dict[str, Any]] = []
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            search = entry.get("search") if isinstance(entry, Mapping) else None
            mode = search.get("mode", "match") if isinstance(search, Mapping) else "match"
            if isinstance(resource, dict) and mode == "match":
                found.append(resource)
        return found

    async def find(self, resource_type: str, key: MatchKey) -> dict[str, Any] | None:
        """The one resource matching ``key``; :class:`MedplumMultipleMatches` if several."""
        found = await self.search(resource_type, {key.param: key.search_value, "_count": "2"})
        if len(found) > 1:
            raise MedplumMultipleMatches(
                f"{len(found)} {resource_type} resources in Medplum match {key.system}")
        return found[0] if found else None

    async def find_copy(self, resource: Mapping[str, Any]) -> dict[str, Any] | None:
        """Medplum's copy of our ``resource``, found the way :meth:`upsert` writes it."""
        return await self.find(resource_type_of(resource), match_key(resource))

    async def upsert(self, resource: Mapping[str, Any], *,
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """Create or replace Medplum's copy with one conditional update on the match key:
        ``PUT {fhir}/{type}?identifier=system|value``. A replay never duplicates. Returns
        Medplum's copy, with Medplum's id."""
        resource_type = resource_type_of(resource)
        key = match_key(resource)
        what = f"a {resource_type} conditional update"
        response = await self._fhir_request(
            "PUT", resource_type, params={key.param: key.search_value},
            body=prepare(resource, key), headers=_idempotency(idempotency_key), what=what)
        if response.status_code not in (200, 201):
            error = failure(response, what)
            if isinstance(error, _VersionConflict):  # no If-Match here: 412 is a match problem
                raise MedplumMultipleMatches(str(error), status=412)
            raise error
        return json_object(response, what)

    async def upsert_versioned(self, resource: Mapping[str, Any], version: int, *,
                               idempotency_key: str | None = None) -> Upserted:
        """Like :meth:`upsert`, but a copy stamped with ``version`` or a newer one is left
        alone, so an older version arriving late never overwrites a newer one."""
        if version < 1:
            raise MedplumInputError("the version must be a positive integer")
        resource_type = resource_type_of(resource)
        key = match_key(resource)
        body = prepare(resource, key, version)
        headers = _idempotency(idempotency_key)
        for _ in range(_VERSIONED_ROUNDS):
            current = await self.find(resource_type, key)
            if current is None:
                what = f"a {resource_type} conditional create"
                response = await self._fhir_request(
                    "POST", resource_type, body=body, what=what,
                    headers={**headers, "If-None-Exist": key.query})
                if response.status_code == 201:
                    return Upserted(json_object(response, what), "created")
                if response.status_code != 200:
                    raise failure(response, what)
                current = json_object(response, what)  # created by someone else meanwhile
            if stored_version(current) >= version:
                return Upserted(current, "unchanged")
            medplum_id, medplum_version = current.get("id"), _version_id(current)
            if not isinstance(medplum_id, str) or not ID_RE.fullmatch(medplum_id):
                raise MedplumTransientError("Medplum's copy has no valid id")
            what = f"a {resource_type} update"
            update_headers = dict(headers)
            if medplum_version is not None:
                update_headers["If-Match"] = f'W/"{medplum_version}"'
            response = await self._fhir_request(
                "PUT", f"{resource_type}/{medplum_id}", body={**body, "id": medplum_id},
                headers=update_headers, what=what)
            if response.status_code in (200, 201):
                return Upserted(json_object(response, what), "updated")
            error = failure(response, what)
            if not isinstance(error, _VersionConflict):
                raise error
            # Someone changed the copy since we read it: read again and decide again.
        raise MedplumTransientError(f"the {resource_type} copy kept changing while we wrote it",
                                    status=412)


    async def delete_copy(self, resource_type: str, gateway_id: str, version: int) -> str:
        """Delete Medplum's copy of our ``resource_type/gateway_id``, deleted here at
        ``version``. A copy stamped with that version or a newer one (the resource was
        written again after the delete) is left alone. Returns what happened."""
        current = await self.find(resource_type, match_key(
            {"resourceType": resource_type, "id": gateway_id}))
        if current is None:
            return "absent"
        if stored_version(current) >= version:
            return "unchanged"
        medplum_id = current.get("id")
        if not isinstance(medplum_id, str) or not ID_RE.fullmatch(medplum_id):
            raise MedplumTransientError("Medplum's copy has no valid id")
        what = f"a {resource_type} delete"
        response = await self._fhir_request("DELETE", f"{resource_type}/{medplum_id}", what=what)
        if response.status_code in (200, 202, 204, 404, 410):
            return "deleted"
        raise failure(response, what)


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _version_id(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, Mapping) else None
    return version if isinstance(version, str) and version and '"' not in version else None
