"""The WhatsApp Cloud API (Meta Graph) over the gateway's shared HTTP client.

The shared client's transport enforces the operator's outbound policy (adapters/http/
outbound.py), so CARI_WHATSAPP_GRAPH_URL must be a public address or allow-listed. The API
version is pinned (CARI_WHATSAPP_API_VERSION). Every failure comes back as one
:class:`GraphFailure` (code, title, retryable, retry after); nothing here raises for a Graph
error, and no phone number or parameter is logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.http.outbound import OutboundRefused
from adapters.settings.whatsapp import WhatsAppSettings
from resolvers.messaging.errors import GraphUnavailable
from resolvers.messaging.model import (
    GraphFailure,
    MessageKind,
    SendResult,
    StoredMessage,
    Template,
    TemplateStatus,
)

log = logging.getLogger("cari.whatsapp")

# Codes that a later attempt can get past (rate limits, throttling, Meta's transient errors).
RETRYABLE_CODES = frozenset({130429, 131056, 131049, 131048, 4, 80007, 1, 2, 131000, 131016})
# Seconds to wait before retrying a rate-limited send when the answer does not say.
RATE_LIMIT_WAIT = {130429: 1.0, 131056: 6.0, 131049: 3600.0, 4: 60.0, 80007: 60.0}
TOKEN_EXPIRED = 190
MAX_TEMPLATE_PAGES = 100


def failure_of(status_code: int, body: Any, headers: httpx.Headers | None = None,
               ) -> GraphFailure:
    """One shape for every Graph error answer."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    title = str(error.get("message") or error.get("title") or f"HTTP {status_code}")
    details = str((data or {}).get("details") or "")
    if details and details != title:
        title = f"{title}: {details}"
    retry_after = _retry_after(headers)
    if code == TOKEN_EXPIRED or (status_code == 401 and code is None):
        return GraphFailure(code=TOKEN_EXPIRED, title=title[:300], retryable=True,
                            token_expired=True)
    retryable = status_code >= 500 or status_code == 429 or code in RETRYABLE_CODES
    if retry_after is None and code in RATE_LIMIT_WAIT:
        retry_after = RATE_LIMIT_WAIT[code]
    return GraphFailure(code=code, title=title[:300], retryable=retryable,
                        retry_after=retry_after)


def _retry_after(headers: httpx.Headers | None) -> float | None:
    raw = (headers or httpx.Headers()).get("retry-after", "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def request_body(message: StoredMessage) -> dict[str, Any]:
    """The POST .../messages body of a stored message (providers.md section 7)."""
    assert message.phone is not None
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": message.phone.lstrip("+"),
                            "biz_opaque_callback_data": message.id}
    if message.kind is MessageKind.TEXT:
        body.update(type="text", text={"preview_url": False, "body": message.text or ""})
        return body
    call = message.template
    assert call is not None
    components: list[dict[str, Any]] = []
    if call.header_params:
        components.append({"type": "header", "parameters": [
            {"type": "text", "text": p} for p in call.header_params]})
    if call.body_params:
        components.append({"type": "body", "parameters": [
            {"type": "text", "text": p} for p in call.body_params]})
    for index, payload in enumerate(call.button_payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    body.update(type="template", template={"name": call.name,
                                           "language": {"code": call.language},
                                           "components": components})
    return body


class GraphClient:
    def __init__(self, settings: WhatsAppSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        self._base = f"{settings.graph_url}/{settings.api_version}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._settings.access_token}"}

    async def send(self, message: StoredMessage) -> SendResult:
        url = f"{self._base}/{self._settings.phone_number_id}/messages"
        try:
            response = await self._client.post(url, json=request_body(message),
                                               headers=self._headers(),
                                               timeout=self._settings.timeout_seconds)
        except OutboundRefused as exc:
            return SendResult(failure=GraphFailure(
                code=None, title=f"the outbound policy refuses the Graph API URL: {exc}",
                retryable=True))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Meta: safe to retry.
            return SendResult(failure=GraphFailure(
                code=None, title=f"Graph API unreachable ({type(exc).__name__})",
                retryable=True, answered=False))
        except httpx.HTTPError as exc:
            # Sent, but no (complete) answer: it may have gone out.
            return SendResult(failure=GraphFailure(
                code=None, title=f"no answer from the Graph API ({type(exc).__name__})",
                retryable=True, answered=False))
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            messages = body.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict) \
                    and isinstance(messages[0].get("id"), str):
                return SendResult(wamid=messages[0]["id"])
        return SendResult(failure=failure_of(response.status_code, body, response.headers))

    async def templates(self) -> list[Template]:
        """Every page of GET /{waba}/message_templates."""
        url: str | None = (f"{self._base}/{self._settings.business_account_id}"
                           "/message_templates?limit=100")
        found: list[Template] = []
        now = datetime.now(UTC)
        for _ in range(MAX_TEMPLATE_PAGES):
            if url is None:
                break
            try:
                response = await self._client.get(url, headers=self._headers(),
                                                   timeout=self._settings.timeout_seconds)
            except (httpx.HTTPError, OutboundRefused) as exc:
                raise GraphUnavailable(f"the Graph API did not answer the template list "
                                       f"({type(exc).__name__})") from None
            if response.status_code != 200:
                failure = failure_of(response.status_code, _json(response), response.headers)
                log.warning("whatsapp template sync refused",
                            extra={"status": response.status_code, "error_code": failure.code})
                raise GraphUnavailable(f"the Graph API refused the template list: "
                                       f"{failure.title}", details={"code": failure.code})
            page = _json(response)
            for item in page.get("data") or ():
                if (template := _template(item, now)) is not None:
                    found.append(template)
            paging = page.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            url = following if isinstance(following, str) else None
        return found


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _template(item: Any, now: datetime) -> Template | None:
    if not isinstance(item, dict) or not item.get("name") or not item.get("language"):
        return None
    try:
        status = TemplateStatus(str(item.get("status", "")).upper())
    except ValueError:
        status = TemplateStatus.DISABLED  # IN_APPEAL, DELETED, ...: not sendable
    body, header, buttons = "", None, []
    for component in item.get("components") or ():
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "BODY":
            body = str(component.get("text") or "")
        elif kind == "HEADER" and str(component.get("format", "TEXT")).upper() == "TEXT":
            header = str(component.get("text") or "")
        elif kind == "BUTTONS":
            buttons = [str(b.get("text") or "") for b in component.get("buttons") or ()
                       if isinstance(b, dict) and str(b.get("type", "")).upper()
                       == "QUICK_REPLY"]
    return Template(name=str(item["name"])[:512], language=str(item["language"])[:16],
                    status=status, category=str(item.get("category") or "UTILITY")[:32],
                    body=body[:4096], header=header, buttons=tuple(buttons), synced_at=now)
