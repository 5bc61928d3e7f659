"""Medplum failures: the exception types, and how HTTP answers and transport failures become
them.

Failures surface as :class:`MedplumTransientError`, which is worth retrying: 5xx, 408, 409
(a concurrent change), 425, 429, timeouts, connection errors, a lost ``If-Match`` race and
unreadable answers. Other failures are :class:`MedplumPermanentError`: other 4xx answers, bad
credentials, a refused outbound address, and input we cannot mirror.
:class:`MedplumMultipleMatches` (412) is one of them. Error messages carry the status code
and Medplum's OperationOutcome text (cut short), never resource content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.http.outbound import OutboundRefused

_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
_MAX_DETAIL = 200


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
    """``If-Match`` lost a race (412 precondition failed): read again and retry.

    Private to the package; the class name shows in the outbox's ``last_error``."""


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP exchange, with transport failures translated."""
    try:
        return await http.request(method, url, **kwargs)
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


def failure(response: httpx.Response, what: str) -> MedplumError:
    """The error for an unwanted answer to ``what`` (e.g. "a Patient read")."""
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


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The answer's JSON object; :class:`MedplumTransientError` when it is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MedplumTransientError(f"Medplum answered {what} with a body that is not a JSON "
                                    "object", status=response.status_code)
    return body
