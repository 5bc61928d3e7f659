"""MTN MoMo status bodies (status answers and callbacks share one shape), normalised.

``status`` is PENDING, SUCCESSFUL or FAILED; ``reason`` is a string in the sandbox and a
``{code, message}`` object in the swagger: both are read. Amounts are strings in major units.
The callback carries no reference id (the callback URL's token identifies the payment), so
``CallbackNotice.provider_reference`` is None and ``event_id`` is the financialTransactionId,
or a hash of the body when there is none: it is unique only within one payment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from resolvers.errors import InvalidInput
from resolvers.input_rules import decode_json
from resolvers.payments.phone import from_major
from resolvers.payments.providers import CallbackNotice, ProviderState, ProviderStatus

REASON_STATES: Mapping[str, ProviderState] = {
    "APPROVAL_REJECTED": "cancelled",
    "TRANSACTION_CANCELED": "cancelled",
    "EXPIRED": "expired",
    "COULD_NOT_PERFORM_TRANSACTION": "expired",  # payer did not approve within ~5 minutes
}


def reason_code(raw: object) -> str | None:
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, Mapping):
        code = raw.get("code")
        message = raw.get("message")
        if code:
            return f"{code}: {message}" if isinstance(message, str) and message else str(code)
    return None


def state_of(status: object, reason: str | None) -> ProviderState:
    text = str(status or "").upper()
    if text == "SUCCESSFUL":
        return "succeeded"
    if text in ("PENDING", "CREATED", "ONGOING"):
        return "pending"
    if text in ("FAILED", "REJECTED", "TIMEOUT"):
        code = (reason or "").split(":")[0]
        return REASON_STATES.get(code, "expired" if text == "TIMEOUT" else "failed")
    return "unknown"


def _amount(body: Mapping[str, Any]) -> tuple[int | None, str | None]:
    currency = body.get("currency")
    if not isinstance(currency, str):
        return None, None
    try:
        return from_major(body.get("amount"), currency), currency
    except (ValueError, InvalidInput):  # an odd amount, or a currency we do not know
        return None, currency


def _party(body: Mapping[str, Any], key: str) -> str | None:
    party = body.get(key)
    if isinstance(party, Mapping) and party.get("partyIdType", "MSISDN") == "MSISDN":
        digits = "".join(ch for ch in str(party.get("partyId") or "") if ch.isdigit())
        return "+" + digits if digits else None
    return None


def status_from(body: Mapping[str, Any], party_key: str) -> ProviderStatus:
    reason = reason_code(body.get("reason"))
    state = state_of(body.get("status"), reason)
    amount, currency = _amount(body)
    txid = body.get("financialTransactionId")
    return ProviderStatus(state=state, amount_minor=amount, currency=currency,
                          payer_e164=_party(body, party_key),
                          provider_transaction_id=str(txid) if txid else None,
                          reason=reason if state != "succeeded" else None)


def parse_callback(body: bytes, kind: str) -> CallbackNotice:
    if kind not in ("collection", "payout"):
        raise ValueError(f"unknown callback kind {kind!r}")
    data = decode_json(body)  # the gateway's input rule; its refusals are ValueErrors
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise ValueError("not a MoMo callback: status is missing")
    status = status_from(data, "payer" if kind == "collection" else "payee")
    if status.state == "unknown":
        raise ValueError("not a MoMo callback: unknown status")
    key = status.provider_transaction_id or hashlib.sha256(body).hexdigest()[:32]
    return CallbackNotice(
        provider_reference=None, claimed_state=status.state,
        event_id=f"momo:{kind}:{key}:{data['status'].upper()}",
        kind="payout" if kind == "payout" else "collection",
        claimed_amount_minor=status.amount_minor, claimed_currency=status.currency,
        claimed_payer_e164=status.payer_e164,
        provider_transaction_id=status.provider_transaction_id, reason=status.reason)
