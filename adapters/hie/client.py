"""National HIEs over FHIR R4: the ``HieClient`` port of resolvers/crossborder.

Every request goes through the gateway's guarded ``httpx.AsyncClient`` (the outbound policy
checks and pins each one); a profile with mutual TLS gets its own guarded client carrying
the certificate (adapters/hie/mtls.py). How a profile is asked:

- ``fhir`` and ``pdqm``: ``GET [base]/Patient?identifier=system|value`` (PDQm ITI-78 is this
  search on a PDQm supplier; its 404 "targetSystem not found" is no match);
- ``pixm``: ``GET [base]/Patient/$ihe-pix?sourceIdentifier=system|value`` (ITI-83), then a
  read of each ``targetId`` on the same base (a 404 is no match).

Authentication: none, a static bearer token, OAuth2 client credentials (one cached token per
HIE, renewed after a 401: adapters/http/token_cache.py) or the client certificate. Neither
tokens nor patient data are logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.hie.auth import HieTokens
from adapters.http.outbound import OutboundRefused
from resolvers.crossborder.model import (
    AuthKind,
    CountryProfile,
    FailureKind,
    HieAnswer,
    HieFailure,
    QueryMode,
)

log = logging.getLogger("cari.hie")
FHIR_JSON = "application/fhir+json"
MAX_TARGETS = 20  # PIXm targetIds read per lookup


def _name(profile: CountryProfile) -> str:
    return profile.code or "the sandbox HIE"


def json_body(response: httpx.Response, profile: CountryProfile, expected: str) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise HieFailure(FailureKind.BAD_ANSWER,
                         f"{_name(profile)} answered {response.status_code} with a body that is "
                         "not JSON") from None
    if not isinstance(body, dict) or body.get("resourceType") != expected:
        raise HieFailure(FailureKind.BAD_ANSWER,
                         f"{_name(profile)} answered something other than a {expected}")
    return body


def judge(response: httpx.Response, profile: CountryProfile) -> None:
    """Raise for an answer that is neither 200 nor a no-match."""
    status = response.status_code
    if status in (401, 403):
        raise HieFailure(FailureKind.UNAUTHORIZED,
                         f"{_name(profile)} refused the gateway's credentials ({status}); "
                         f"check CARI_HIE_{profile.code or '<CC>'}_AUTH and its secrets")
    if status != 200:
        raise HieFailure(FailureKind.UPSTREAM_ERROR,
                         f"{_name(profile)} answered HTTP {status}")


class HttpHieClient:
    def __init__(self, http: httpx.AsyncClient, *,
                 mtls_clients: Mapping[str, httpx.AsyncClient] | None = None) -> None:
        self._http = http
        self._mtls = dict(mtls_clients or {})
        self._tokens = HieTokens(http)

    def _client(self, profile: CountryProfile) -> httpx.AsyncClient:
        if profile.auth is AuthKind.MTLS:
            client = self._mtls.get(profile.code)
            if client is None:
                raise HieFailure(FailureKind.UNREACHABLE,
                                 f"{_name(profile)} needs a client certificate: set "
                                 f"CARI_HIE_{profile.code}_CLIENT_CERT and _CLIENT_KEY")
            return client
        return self._http

    async def _get(self, profile: CountryProfile, url: str,
                   params: Mapping[str, str] | None = None) -> httpx.Response:
        client = self._client(profile)
        headers = {"Accept": FHIR_JSON}
        timeout = httpx.Timeout(profile.timeout_seconds, connect=min(5.0, profile.timeout_seconds))

        async def attempt(token: str | None) -> httpx.Response:
            sent = {**headers, **({"Authorization": f"Bearer {token}"} if token else {})}
            try:
                return await client.get(url, params=params, headers=sent, timeout=timeout)
            except httpx.TimeoutException:
                raise HieFailure(FailureKind.TIMEOUT, f"{_name(profile)} did not answer in "
                                 f"{profile.timeout_seconds:g} s") from None
            except OutboundRefused as exc:
                raise HieFailure(FailureKind.UNREACHABLE,
                                 f"{_name(profile)}: outbound request refused ({exc})") from None
            except httpx.HTTPError as exc:
                raise HieFailure(FailureKind.UNREACHABLE, f"{_name(profile)} is unreachable "
                                 f"({type(exc).__name__})") from None

        if profile.auth is AuthKind.OAUTH2:
            return await self._tokens.call(profile, attempt)
        return await attempt(profile.bearer_token if profile.auth is AuthKind.BEARER else None)

    async def find(self, profile: CountryProfile, national_id: str) -> HieAnswer:
        if profile.mode is QueryMode.PIXM:
            return await self._pix(profile, national_id)
        value = f"{profile.identifier_system}|{national_id}" if profile.identifier_system \
            else national_id
        response = await self._get(profile, f"{profile.base_url}/Patient",
                                   {"identifier": value})
        if response.status_code == 404 and profile.mode is QueryMode.PDQM:
            return HieAnswer([])  # ITI-78: an identifier domain it does not know
        judge(response, profile)
        bundle = json_body(response, profile, "Bundle")
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise HieFailure(FailureKind.BAD_ANSWER, f"{_name(profile)}: Bundle.entry is not "
                             "a list")
        resources: list[Any] = []
        for entry in entries:
            search = entry.get("search") if isinstance(entry, dict) else None
            if isinstance(search, dict) and search.get("mode") in ("outcome", "include"):
                continue
            resources.append(entry.get("resource") if isinstance(entry, dict) else entry)
        return HieAnswer(resources)

    async def _pix(self, profile: CountryProfile, national_id: str) -> HieAnswer:
        params = {"sourceIdentifier": f"{profile.identifier_system}|{national_id}"}
        if profile.target_system:
            params["targetSystem"] = profile.target_system
        response = await self._get(profile, f"{profile.base_url}/Patient/$ihe-pix", params)
        if response.status_code == 404:
            return HieAnswer([])  # not found in a known domain
        judge(response, profile)
        parameters = json_body(response, profile, "Parameters")
        resources: list[Any] = []
        for part in (parameters.get("parameter") or [])[:MAX_TARGETS]:
            if not isinstance(part, dict) or part.get("name") != "targetId":
                continue
            reference = (part.get("valueReference") or {}).get("reference")
            if not isinstance(reference, str):
                continue
            path = reference.removeprefix(profile.base_url + "/")
            kind, _, resource_id = path.partition("/")
            if kind != "Patient" or not resource_id or "/" in resource_id or "?" in resource_id:
                continue  # another server's record, or not a Patient: not followed
            read = await self._get(profile, f"{profile.base_url}/Patient/{resource_id}")
            if read.status_code in (404, 410):
                continue
            judge(read, profile)
            resources.append(json_body(read, profile, "Patient"))
        return HieAnswer(resources)
