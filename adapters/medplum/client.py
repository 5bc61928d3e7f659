"""Medplum FHIR R4 client: OAuth2 client credentials, idempotent upserts, reads.

Everything goes through the shared ``httpx.AsyncClient`` of the lifespan, so its timeouts
and the outbound allow-list apply. Medplum lives at ``{base}``: the token endpoint is
``{base}/oauth2/token`` and the FHIR base ``{base}/fhir/R4``.

**Tokens.** Client credentials (``grant_type=client_credentials`` with ``client_id`` and
``client_secret`` as form fields). The token is cached until shortly before it expires; one
request at a time fetches a new one. A 401 from the FHIR API drops the token, and the call
is sent once more with a fresh one; a second 401 is an :class:`MedplumAuthError`.

**Match key: how an upsert finds the copy it replaces.** Medplum assigns its own ids, so the
copy is found by search. We key on the *gateway identifier*
``{"system": "urn:cari:gateway:resource-id", "value": <our id>}``. The upsert adds it to the
resource's identifiers, and the conditional update is
``PUT {fhir}/{type}?identifier=urn:cari:gateway:resource-id|<our id>``.

We chose this over the first business identifier because:

- our id never changes. Business identifiers do: an MPI correction replaces an MRN, and a
  later version may list the identifiers in another order. Keyed on them, the next version
  would not find the old copy and would create a second one, which is a duplicate in
  Medplum;
- it is unique by construction. A business identifier shared by two Medplum resources makes
  every conditional update fail with 412 (multiple matches) for good;
- it only ever matches copies the gateway wrote. A business-identifier key would silently
  overwrite a record that another system created in Medplum with the same MRN. Merging
  with foreign records is an MPI decision, not a side effect of mirroring.

The business identifiers are still sent unchanged, so Medplum users can search by them. Only
a resource *without an id* is keyed on its first business identifier that has a system and
a value. A few resource types cannot carry the gateway identifier:

- those whose ``identifier`` is a single value (Composition, QuestionnaireResponse, ...) when
  it is already taken. They are keyed on that identifier;
- those that have no identifier at all (Provenance, AuditEvent, ...). They are keyed on a
  ``meta.tag`` with the same system (``_tag=urn:cari:gateway:resource-id|<our id>``).

See :func:`match_key`.

**Versions.** :meth:`MedplumClient.upsert` is a single conditional update: a replay never
duplicates, but an *older* version delivered after a newer one overwrites it. The outbox
can deliver out of order: retries have their own jittered backoff, and a batch is delivered
concurrently. :meth:`MedplumClient.upsert_versioned` prevents this. It stamps our version
as ``meta.tag`` ``urn:cari:gateway:version|<n>``, reads the current copy, and leaves it alone
when it is as new or newer. Otherwise it writes with ``If-Match`` on the version it read
(or ``If-None-Exist`` when there is no copy), so concurrent writers cannot interleave.

**Errors.** Failures surface as :class:`MedplumTransientError`, which is worth retrying:
5xx, 408, 409 (a concurrent change), 425, 429, timeouts, connection errors, a lost
``If-Match`` race and unreadable answers. Other failures are :class:`MedplumPermanentError`:
other 4xx answers, bad credentials, a refused outbound address, and input we cannot
mirror. :class:`MedplumMultipleMatches` (412) is one of them. Error messages carry the
status code and Medplum's OperationOutcome text (cut short), never resource content.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from adapters.http.outbound import OutboundRefused

log = logging.getLogger("cari.medplum")

GATEWAY_ID_SYSTEM = "urn:cari:gateway:resource-id"
GATEWAY_VERSION_SYSTEM = "urn:cari:gateway:version"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path, not a secret)
FHIR_PATH = "/fhir/R4"
FHIR_JSON = "application/fhir+json"

# R4 resource types without an ``identifier`` element, and those where it is a single value.
NO_IDENTIFIER_TYPES = frozenset({
    "AuditEvent", "Binary", "CapabilityStatement", "CompartmentDefinition", "GraphDefinition",
    "ImplementationGuide", "Linkage", "MedicationKnowledge", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductInteraction", "MedicinalProductManufactured",
    "MedicinalProductUndesirableEffect", "MessageHeader", "NamingSystem", "OperationDefinition",
    "OperationOutcome", "Parameters", "Provenance", "SearchParameter", "Subscription",
    "SubscriptionStatus", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
    "SubstanceReferenceInformation", "SubstanceSourceMaterial", "TerminologyCapabilities",
    "VerificationResult",
})
SINGLE_IDENTIFIER_TYPES = frozenset({
    "AdverseEvent", "Bundle", "Composition", "ConceptMap", "MedicinalProductIngredient",
    "QuestionnaireResponse", "SpecimenDefinition", "SubstanceSpecification", "TestReport",
    "TestScript",
})

_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
_MAX_DETAIL = 200
_VERSIONED_ROUNDS = 3
_DEFAULT_EXPIRES_IN = 300.0


# ------------------------------------------------------------------ errors


class MedplumError(Exception):
    """A Medplum call failed; ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MedplumTransientError(MedplumError):
    """Worth retrying later: Medplum is down, slow, overloaded, or a write raced another."""


class MedplumPermanentError(MedplumError):
    """Retrying the same request cannot help; someone must fix data or configuration."""


class MedplumAuthError(MedplumPermanentError):
    """The client credentials were refused, or a fresh token was refused too."""


class MedplumMultipleMatches(MedplumPermanentError):
    """A conditional operation matched more than one resource (412)."""


class MedplumInputError(MedplumPermanentError):
    """The resource (or type, id) we were given cannot be sent to Medplum as it is."""


class _VersionConflict(MedplumTransientError):
    """``If-Match`` lost a race (412 precondition failed): read again and retry."""


# ------------------------------------------------------------------ match key


@dataclass(frozen=True)
class MatchKey:
    """How the copy of a resource is found in Medplum: ``param=system|value``."""

    param: Literal["identifier", "_tag"]
    system: str
    value: str

    @property
    def search_value(self) -> str:
        return f"{_escape(self.system)}|{_escape(self.value)}"

    @property
    def query(self) -> str:
        """As a query string, e.g. for ``If-None-Exist``."""
        return f"{self.param}={quote(self.search_value, safe='')}"


def _escape(text: str) -> str:
    # FHIR search escaping: "," would split the value into alternatives.
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$")


def _usable(identifier: Any) -> bool:
    # Medplum splits token searches at "|", so a "|" inside either part can never match.
    return (isinstance(identifier, Mapping)
            and isinstance(identifier.get("system"), str) and identifier["system"] != ""
            and isinstance(identifier.get("value"), str) and identifier["value"] != ""
            and "|" not in identifier["system"] and "|" not in identifier["value"])


def _resource_type(resource: Mapping[str, Any]) -> str:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not _TYPE_RE.fullmatch(resource_type):
        raise MedplumInputError("the resource has no valid resourceType")
    return resource_type


def _gateway_id(resource: Mapping[str, Any]) -> str | None:
    rid = resource.get("id")
    if rid is None:
        return None
    if not isinstance(rid, str) or not _ID_RE.fullmatch(rid):
        raise MedplumInputError("the resource id is not a valid FHIR id")
    return rid


def match_key(resource: Mapping[str, Any]) -> MatchKey:
    """The key an upsert of ``resource`` matches on (see the module docstring)."""
    resource_type = _resource_type(resource)
    rid = _gateway_id(resource)
    identifier = resource.get("identifier")
    if resource_type in NO_IDENTIFIER_TYPES:
        if rid is None:
            raise MedplumInputError(f"a {resource_type} without an id cannot be mirrored "
                                    "idempotently (it has no identifier)")
        return MatchKey("_tag", GATEWAY_ID_SYSTEM, rid)
    if resource_type in SINGLE_IDENTIFIER_TYPES:
        if identifier is None and rid is not None:
            return MatchKey("identifier", GATEWAY_ID_SYSTEM, rid)
        if _usable(identifier):
            assert isinstance(identifier, Mapping)
            return MatchKey("identifier", identifier["system"], identifier["value"])
        raise MedplumInputError(f"the {resource_type} has an identifier without a usable "
                                "system and value, so it cannot be matched")
    if identifier is not None and not isinstance(identifier, list):
        raise MedplumInputError(f"{resource_type}.identifier must be a list")
    if rid is not None:
        return MatchKey("identifier", GATEWAY_ID_SYSTEM, rid)
    for candidate in identifier or ():
        if _usable(candidate):
            return MatchKey("identifier", candidate["system"], candidate["value"])
    raise MedplumInputError(f"the {resource_type} has neither an id nor an identifier with a "
                            "system and value, so it cannot be mirrored idempotently")


def _set_tag(meta: dict[str, Any], system: str, code: str) -> None:
    tags = [t for t in meta.get("tag") or [] if not (isinstance(t, Mapping)
                                                      and t.get("system") == system)]
    tags.append({"system": system, "code": code})
    meta["tag"] = tags


def prepare(resource: Mapping[str, Any], key: MatchKey, version: int | None = None
            ) -> dict[str, Any]:
    """The body Medplum gets: our id, versionId and lastUpdated removed (Medplum assigns
    its own), the match key stamped on, and our version as a tag when given."""
    body = copy.deepcopy(dict(resource))
    body.pop("id", None)
    meta = dict(body.get("meta") or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if key.system == GATEWAY_ID_SYSTEM:
        if key.param == "_tag":
            _set_tag(meta, key.system, key.value)
        elif _resource_type(resource) in SINGLE_IDENTIFIER_TYPES:
            body["identifier"] = {"system": key.system, "value": key.value}
        else:
            identifiers = [i for i in body.get("identifier") or []
                           if not (isinstance(i, Mapping) and i.get("system") == key.system)]
            identifiers.append({"system": key.system, "value": key.value})
            body["identifier"] = identifiers
    if version is not None:
        _set_tag(meta, GATEWAY_VERSION_SYSTEM, str(version))
    if meta:
        body["meta"] = meta
    else:
        body.pop("meta", None)
    return body


def stored_version(resource: Mapping[str, Any]) -> int:
    """Our version stamped on a Medplum copy; 0 when it has none (written by someone else)."""
    meta = resource.get("meta")
    for tag in (meta.get("tag") or []) if isinstance(meta, Mapping) else ():
        if isinstance(tag, Mapping) and tag.get("system") == GATEWAY_VERSION_SYSTEM:
            code = tag.get("code")
            if isinstance(code, str) and code.isdigit():
                return int(code)
    return 0


# ------------------------------------------------------------------ client


@dataclass
class _Token:
    value: str
    refresh_at: float


@dataclass(frozen=True)
class Upserted:
    """What :meth:`MedplumClient.upsert_versioned` did, and Medplum's copy afterwards."""

    resource: dict[str, Any]
    action: Literal["created", "updated", "unchanged"]


def _outcome_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    texts: list[str] = []
    if isinstance(body, Mapping):
        for issue in body.get("issue") or []:
            if isinstance(issue, Mapping):
                details = issue.get("details")
                text = details.get("text") if isinstance(details, Mapping) else None
                text = text or issue.get("diagnostics") or issue.get("code")
                if isinstance(text, str):
                    texts.append(text)
        for field in ("error", "error_description"):  # OAuth2 error answers
            if isinstance(body.get(field), str):
                texts.append(body[field])
    return "; ".join(texts)[:_MAX_DETAIL]


def _issue_codes(response: httpx.Response) -> set[str]:
    try:
        body = response.json()
    except ValueError:
        return set()
    if not isinstance(body, Mapping):
        return set()
    return {str(i.get("code")) for i in body.get("issue") or [] if isinstance(i, Mapping)}


def _failure(response: httpx.Response, what: str) -> MedplumError:
    status = response.status_code
    detail = _outcome_text(response)
    message = f"Medplum answered {status} to {what}" + (f": {detail}" if detail else "")
    if status == 412:
        if "multiple-matches" in _issue_codes(response):
            return MedplumMultipleMatches(message, status=status)
        return _VersionConflict(message, status=status)
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return MedplumTransientError(message, status=status)
    if status in (401, 403):
        return MedplumAuthError(message, status=status)
    return MedplumPermanentError(message, status=status)


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MedplumTransientError(f"Medplum answered {what} with a body that is not a JSON "
                                    "object", status=response.status_code)
    return body


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
        self._base = base_url.rstrip("/")
        self._fhir = self._base + FHIR_PATH
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    # -------------------------------------------------------------- transport

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange, with transport failures translated."""
        try:
            return await self._http.request(method, url, **kwargs)
        except OutboundRefused as exc:
            # Policy, not weather: only an operator can fix it.
            raise MedplumPermanentError(f"outbound request refused: {exc}") from None
        except httpx.TimeoutException as exc:
            raise MedplumTransientError(f"Medplum did not answer in time ({type(exc).__name__})"
                                        ) from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise MedplumPermanentError(f"cannot send the request: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise MedplumTransientError(f"cannot reach Medplum ({type(exc).__name__})") from None

    async def _access_token(self) -> str:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._token_lock:  # one fetch, however many callers are waiting
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                token = self._token = await self._fetch_token()
            return token.value

    async def _fetch_token(self) -> _Token:
        started = self._clock()
        response = await self._call(
            "POST", self._base + TOKEN_PATH,
            data={"grant_type": "client_credentials", "client_id": self._client_id,
                  "client_secret": self._client_secret},
            headers={"Accept": "application/json"})
        if response.status_code != 200:
            failure = _failure(response, "the token request")
            if isinstance(failure, MedplumPermanentError):
                raise MedplumAuthError(str(failure), status=response.status_code)
            raise failure
        body = _json_object(response, "the token request")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise MedplumTransientError("Medplum's token answer has no access_token")
        expires_in = body.get("expires_in")
        lifetime = (float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0
                    else _DEFAULT_EXPIRES_IN)
        log.debug("medplum token fetched, valid for %.0f s", lifetime)
        return _Token(value, started + lifetime - min(self._margin, lifetime / 2))

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
        for attempt in (1, 2):
            token = await self._access_token()
            response = await self._call(
                method, f"{self._fhir}/{path}", params=params, content=content,
                headers={**all_headers, "Authorization": f"Bearer {token}"})
            if response.status_code != 401 or attempt == 2:
                return response
            if self._token is not None and self._token.value == token:
                self._token = None  # others may have renewed it already
            log.info("medplum refused the token; renewing it")
        raise AssertionError("unreachable")

    # -------------------------------------------------------------- API

    async def read(self, resource_type: str, id: str) -> dict[str, Any] | None:
        """``GET {fhir}/{type}/{id}``; None when Medplum has no such resource (404, 410)."""
        if not _TYPE_RE.fullmatch(resource_type) or not _ID_RE.fullmatch(id):
            raise MedplumInputError("not a valid FHIR resource type and id")
        what = f"a {resource_type} read"
        response = await self._fhir_request("GET", f"{resource_type}/{id}", what=what)
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise _failure(response, what)
        return _json_object(response, what)

    async def search(self, resource_type: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET {fhir}/{type}?...``: the matching resources of the first page."""
        if not _TYPE_RE.fullmatch(resource_type):
            raise MedplumInputError("not a valid FHIR resource type")
        what = f"a {resource_type} search"
        response = await self._fhir_request("GET", resource_type, params=params, what=what)
        if response.status_code != 200:
            raise _failure(response, what)
        bundle = _json_object(response, what)
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
        return await self.find(_resource_type(resource), match_key(resource))

    async def upsert(self, resource: Mapping[str, Any], *,
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """Create or replace Medplum's copy with one conditional update on the match key:
        ``PUT {fhir}/{type}?identifier=system|value``. A replay never duplicates. Returns
        Medplum's copy, with Medplum's id."""
        resource_type = _resource_type(resource)
        key = match_key(resource)
        what = f"a {resource_type} conditional update"
        response = await self._fhir_request(
            "PUT", resource_type, params={key.param: key.search_value},
            body=prepare(resource, key), headers=_idempotency(idempotency_key), what=what)
        if response.status_code not in (200, 201):
            failure = _failure(response, what)
            if isinstance(failure, _VersionConflict):  # no If-Match here: 412 is a match problem
                raise MedplumMultipleMatches(str(failure), status=412)
            raise failure
        return _json_object(response, what)

    async def upsert_versioned(self, resource: Mapping[str, Any], version: int, *,
                               idempotency_key: str | None = None) -> Upserted:
        """Like :meth:`upsert`, but a copy stamped with ``version`` or a newer one is left
        alone, so an older version arriving late never overwrites a newer one."""
        if version < 1:
            raise MedplumInputError("the version must be a positive integer")
        resource_type = _resource_type(resource)
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
                    return Upserted(_json_object(response, what), "created")
                if response.status_code != 200:
                    raise _failure(response, what)
                current = _json_object(response, what)  # created by someone else meanwhile
            if stored_version(current) >= version:
                return Upserted(current, "unchanged")
            medplum_id, medplum_version = current.get("id"), _version_id(current)
            if not isinstance(medplum_id, str) or not _ID_RE.fullmatch(medplum_id):
                raise MedplumTransientError("Medplum's copy has no valid id")
            what = f"a {resource_type} update"
            update_headers = dict(headers)
            if medplum_version is not None:
                update_headers["If-Match"] = f'W/"{medplum_version}"'
            response = await self._fhir_request(
                "PUT", f"{resource_type}/{medplum_id}", body={**body, "id": medplum_id},
                headers=update_headers, what=what)
            if response.status_code in (200, 201):
                return Upserted(_json_object(response, what), "updated")
            failure = _failure(response, what)
            if not isinstance(failure, _VersionConflict):
                raise failure
            # Someone changed the copy since we read it: read again and decide again.
        raise MedplumTransientError(f"the {resource_type} copy kept changing while we wrote it",
                                    status=412)


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _version_id(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, Mapping) else None
    return version if isinstance(version, str) and version and '"' not in version else None
