"""Cross-border patient lookup: country profiles, what an HIE answered, and how it failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class QueryMode(StrEnum):
    """How a national HIE is asked for a patient by national id."""

    FHIR = "fhir"  # GET [base]/Patient?identifier=system|value
    PDQM = "pdqm"  # the same search, on an IHE PDQm (ITI-78) supplier
    PIXM = "pixm"  # GET [base]/Patient/$ihe-pix?sourceIdentifier=system|value, then a read


class AuthKind(StrEnum):
    NONE = "none"
    BEARER = "bearer"  # a static token: Authorization: Bearer <token>
    OAUTH2 = "oauth2"  # OAuth2 client credentials at token_url
    MTLS = "mtls"  # a client certificate (mutual TLS)


@dataclass(frozen=True)
class CountryProfile:
    """One national HIE: where it is, how its national ids are written, how to ask it."""

    code: str  # ISO 3166-1 alpha-2, or "" for a caller-supplied sandbox endpoint
    name: str
    base_url: str  # the FHIR base (meta.source of the answer)
    identifier_system: str  # the system of the national id ("" : search by value only)
    mode: QueryMode = QueryMode.FHIR
    auth: AuthKind = AuthKind.NONE
    timeout_seconds: float = 5.0
    token_url: str = ""  # OAuth2
    client_id: str = ""  # OAuth2
    client_secret: str = field(default="", repr=False)  # OAuth2; never logged
    bearer_token: str = field(default="", repr=False)  # bearer; never logged
    client_cert: str = ""  # mTLS: PEM certificate file
    client_key: str = ""  # mTLS: PEM key file
    ca_bundle: str = ""  # mTLS (or a private CA): PEM bundle to verify the HIE with
    target_system: str = ""  # PIXm: the targetSystem to ask for ("" : every domain)


class FailureKind(StrEnum):
    """Why an HIE did not answer; the status each one gets on a single-country lookup."""

    UNREACHABLE = "unreachable"  # connection refused, DNS, TLS, the outbound guard
    TIMEOUT = "timeout"  # no answer within the country's timeout
    UNAUTHORIZED = "unauthorized"  # the HIE refused the gateway's credentials (401/403)
    BAD_ANSWER = "bad_answer"  # not JSON, not a Bundle / Parameters
    UPSTREAM_ERROR = "upstream_error"  # 5xx or another unexpected status
    CIRCUIT_OPEN = "circuit_open"  # failed repeatedly: not asked until the breaker resets

    @property
    def http_status(self) -> int:
        return 504 if self is FailureKind.TIMEOUT else 502


class HieFailure(Exception):
    """An HIE could not be asked or did not answer usably; the message is safe to show
    (it names no patient)."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class EndpointRefused(Exception):
    """A caller-supplied HIE endpoint the outbound allow-list does not admit."""


@dataclass(frozen=True)
class HieAnswer:
    """The resources an HIE answered for one national id (not yet validated)."""

    resources: list[Any]


class OutcomeStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@dataclass(frozen=True)
class CountryOutcome:
    """One HIE's part of a lookup: the valid Patients it answered, or why it failed."""

    country: str  # the profile's code ("" for a sandbox endpoint)
    source: str  # the FHIR base asked
    status: OutcomeStatus
    patients: tuple[dict[str, Any], ...] = ()
    failure: FailureKind | None = None
    message: str = ""
    dropped: tuple[str, ...] = ()  # why entries were dropped (validation), no patient data
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class LookupResult:
    """The whole lookup, which REST renders as a Bundle and GraphQL as typed outcomes."""

    national_id: str
    countries: tuple[str, ...]  # as asked, in order
    outcomes: tuple[CountryOutcome, ...]
    purpose: str
    fan_out: bool  # several countries (or ALL) were asked

    @property
    def patients(self) -> list[tuple[CountryOutcome, dict[str, Any]]]:
        return [(o, p) for o in self.outcomes for p in o.patients]


@dataclass(frozen=True)
class HieCircuit:
    """One HIE's circuit breaker (closed, open, half_open) and last answer, per process."""

    code: str
    name: str
    base_url: str
    state: str
    consecutive_failures: int
    last_success: datetime | None
    client_cert: str  # mTLS: the PEM file whose expiry the health page shows
