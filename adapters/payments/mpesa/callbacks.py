"""Daraja result codes and callback bodies, normalised.

Three bodies arrive unsigned at URLs we gave Daraja:

- STK callback (``kind="collection"``): ``{"Body": {"stkCallback": {...}}}``, ``ResultCode`` an
  integer, ``CallbackMetadata.Item[]`` (looked up by ``Name``) only on success.
- B2C result (``kind="payout"``): ``{"Result": {...}}`` with ``ResultParameters.ResultParameter[]``
  ``{Key, Value}``. The same URL receives the result of a Transaction Status query we asked
  for; it is recognised by its ``TransactionStatus`` parameter and names the payout's
  ``ConversationID`` among its parameters.
- Queue timeout (``kind="payout_timeout"``): posted to ``QueueTimeOutURL``; the outcome is
  unknown, so it always claims ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resolvers.input_rules import decode_json
from resolvers.payments.providers import CallbackNotice, ProviderState

# STK (and query) result codes -> state. Anything unlisted is "failed" with the code as reason.
STK_STATES: Mapping[int, ProviderState] = {
    0: "succeeded",
    1032: "cancelled",   # cancelled by the user
    1037: "expired",     # user unreachable / no PIN in time
    1019: "expired",     # transaction expired
    17: "unknown",       # internal failure: back off and query again
    26: "unknown",       # system busy / traffic blocking
}
# B2C result codes -> state. 15 (duplicate detected) says nothing about the original payout.
B2C_STATES: Mapping[int, ProviderState] = {0: "succeeded", 15: "unknown", 17: "unknown",
                                           26: "unknown"}
# Transaction Status query: ResultParameter TransactionStatus -> state.
TX_STATUS_STATES: Mapping[str, ProviderState] = {
    "completed": "succeeded", "failed": "failed", "declined": "failed", "cancelled": "cancelled",
    "expired": "expired", "pending": "pending", "authorized": "pending",
}


def state_for(code: int, table: Mapping[int, ProviderState]) -> ProviderState:
    return table.get(code, "failed")


def result_code(raw: object) -> int:
    """A ResultCode as int: an integer in callbacks, a string in the STK query answer."""
    if isinstance(raw, bool):
        raise ValueError("ResultCode is not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw.strip())
    raise ValueError("ResultCode is not a number")


def shillings_to_minor(value: object) -> int | None:
    """A Daraja amount (whole shillings, int, float or string) in cents; None if absent/odd."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        cents = round(float(value) * 100)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return cents if cents >= 0 else None


def msisdn_to_e164(value: object) -> str | None:
    digits = "".join(ch for ch in str(value) if ch.isdigit()) if value is not None else ""
    return "+" + digits if 9 <= len(digits) <= 15 else None


def _load(body: bytes) -> dict[str, Any]:
    data = decode_json(body)  # the gateway's input rule; its refusals are ValueErrors
    if not isinstance(data, dict):
        raise ValueError("callback body is not a JSON object")
    return data


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"callback has no {key}")
    return value


def _items(container: object, list_key: str, name_key: str) -> dict[str, Any]:
    """``{"Item": [{"Name": ..., "Value": ...}]}`` (or one item) -> {Name: Value}."""
    if not isinstance(container, Mapping):
        return {}
    raw = container.get(list_key)
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, Mapping) else []
    return {str(i[name_key]): i.get("Value") for i in items
            if isinstance(i, Mapping) and name_key in i}


def parse_stk_callback(body: bytes) -> CallbackNotice:
    data = _load(body)
    outer = data.get("Body")
    cb = outer.get("stkCallback") if isinstance(outer, Mapping) else None
    if not isinstance(cb, Mapping):
        raise ValueError("not an STK callback: Body.stkCallback is missing")
    checkout = _str(cb, "CheckoutRequestID")
    code = result_code(cb.get("ResultCode"))
    state = state_for(code, STK_STATES)
    meta = _items(cb.get("CallbackMetadata"), "Item", "Name")
    receipt = meta.get("MpesaReceiptNumber")
    desc = cb.get("ResultDesc")
    return CallbackNotice(
        provider_reference=checkout, claimed_state=state, event_id=f"stk:{checkout}",
        kind="collection",
        claimed_amount_minor=shillings_to_minor(meta.get("Amount")),
        claimed_currency="KES" if "Amount" in meta else None,
        claimed_payer_e164=msisdn_to_e164(meta.get("PhoneNumber")),
        provider_transaction_id=str(receipt) if receipt else None,
        reason=None if code == 0 else f"{code}: {desc if isinstance(desc, str) else ''}".strip(),
    )


def parse_b2c_result(body: bytes, *, timeout: bool = False) -> CallbackNotice:
    data = _load(body)
    result = data.get("Result")
    if not isinstance(result, Mapping):
        raise ValueError("not a Daraja result: Result is missing")
    conversation = _str(result, "ConversationID")
    originator = result.get("OriginatorConversationID")
    code = result_code(result.get("ResultCode", 1 if timeout else None))
    desc = result.get("ResultDesc")
    reason = None if code == 0 else f"{code}: {desc if isinstance(desc, str) else ''}".strip()
    params = _items(result.get("ResultParameters"), "ResultParameter", "Key")
    originator_key = originator if isinstance(originator, str) and originator else None
    if timeout:
        return CallbackNotice(provider_reference=conversation, claimed_state="unknown",
                              event_id=f"b2c-timeout:{conversation}", kind="payout_timeout",
                              attempt_key=originator_key, reason=reason or "queue timeout")
    if "TransactionStatus" in params:  # the answer to our Transaction Status query
        status = str(params.get("TransactionStatus") or "").strip().lower()
        state: ProviderState = TX_STATUS_STATES.get(status, "unknown") if code == 0 else "unknown"
        original = params.get("ConversationID")
        original_originator = params.get("OriginatorConversationID")
        receipt = params.get("ReceiptNo") or result.get("TransactionID")
        return CallbackNotice(
            provider_reference=str(original) if original else None, claimed_state=state,
            event_id=f"txstatus:{conversation}", kind="payout",
            claimed_amount_minor=shillings_to_minor(params.get("Amount")),
            claimed_currency="KES" if "Amount" in params else None,
            provider_transaction_id=str(receipt) if receipt else None,
            attempt_key=str(original_originator) if original_originator else None,
            reason=reason or (None if state == "succeeded" else f"TransactionStatus {status}"))
    transaction = result.get("TransactionID")
    receiver = params.get("ReceiverPartyPublicName")  # "2547... - NAME": keep the number only
    return CallbackNotice(
        provider_reference=conversation, claimed_state=state_for(code, B2C_STATES),
        event_id=f"b2c:{conversation}", kind="payout",
        claimed_amount_minor=shillings_to_minor(params.get("TransactionAmount")),
        claimed_currency="KES" if "TransactionAmount" in params else None,
        claimed_payer_e164=msisdn_to_e164(str(receiver).split(" - ")[0]) if receiver else None,
        provider_transaction_id=str(transaction) if transaction else None,
        attempt_key=originator_key, reason=reason)
