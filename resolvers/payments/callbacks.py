"""Mobile-money callbacks: authenticate by the payment's token, store, then confirm by query.

M-Pesa, MTN MoMo and Orange sign nothing. A callback is accepted only when

- its ``?token=`` hashes to the stored hash of one payment of that provider;
- Orange's ``notif_token`` matches the one stored (hashed) for that payment;
- the provider reference it names, if any, is the payment's.

It is then handed to the webhook inbox (deduplicated on the provider's event id) and answered
at once. The inbox worker calls :class:`CallbackHandler`, which never trusts the claim: it
runs the authenticated status query and applies what the provider answers.

One exception, documented: M-Pesa B2C has no synchronous status query (``query_payout``
answers ``unknown``). A B2C *result* callback is applied when it carries our own
OriginatorConversationID (the attempt key, sent only to Safaricom) as well as the token,
without a synchronous query. A B2C *queue timeout* leaves the payout pending (outcome
unknown) and asks for a Transaction Status query, whose answer Daraja posts to result URLs
with a fresh token (``query.status_token``); the payout is never sent again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

from resolvers.clock import Clock
from resolvers.errors import DomainError, Unauthenticated
from resolvers.payments.config import ASYNC_PAYOUT_STATUS, PaymentConfig, ProviderDirectory
from resolvers.payments.model import (
    Direction,
    Payment,
    TransitionSource,
    hash_secret,
    looks_like_callback_token,
    secret_matches,
)
from resolvers.payments.providers import CallbackNotice, ProviderStatus
from resolvers.payments.query import query_status, status_token
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.settle import Claims, PaymentCounter, Settler, payer_hash, target_of
from resolvers.payments.state import is_final
from resolvers.webhooks.model import (
    InboundEvent,
    IntakeResult,
    PermanentEventError,
    WebhookEvent,
)

log = logging.getLogger("cari.payments")
MOBILE_PROVIDERS = ("mpesa", "mtn_momo", "orange_money")


class CallbackRejected(Unauthenticated):
    """Not a callback for one of our payments: 401, nothing stored."""


class MalformedCallback(DomainError):
    code = "bad_request"


class Inbox(Protocol):
    async def receive(self, event: InboundEvent) -> IntakeResult: ...


def _kind(payment: Payment, kind: str | None) -> str:
    if payment.direction == Direction.COLLECTION:
        return "collection"
    return "payout_timeout" if kind == "timeout" else "payout"


def _payload(payment: Payment, notice: CallbackNotice) -> dict[str, Any]:
    # Claims only; the payer's number is stored hashed and compared by the handler.
    return {"payment_id": payment.id, "kind": notice.kind, "claimed_state": notice.claimed_state,
            "provider_reference": notice.provider_reference,
            "claimed_amount_minor": notice.claimed_amount_minor,
            "claimed_currency": notice.claimed_currency,
            "claimed_payer_sha256": payer_hash(notice.claimed_payer_e164)
            if notice.claimed_payer_e164 else None,
            "provider_transaction_id": notice.provider_transaction_id,
            "attempt_key": notice.attempt_key, "reason": notice.reason}


class PaymentCallbacks:
    """What the callback routes call: authenticate, parse, hand over to the inbox."""

    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, providers: ProviderDirectory,
                 counter: PaymentCounter) -> None:
        self._uow_factory = uow_factory
        self._providers = providers
        self._count = counter

    def _reject(self, provider: str, reason: str) -> CallbackRejected:
        self._count(f"callback_rejected_{reason}", provider)
        log.info("payment callback refused", extra={"provider": provider, "reason": reason})
        return CallbackRejected("this callback does not belong to a payment of this gateway")

    async def accept(self, inbox: Inbox, provider: str, token: str | None, body: bytes,
                     kind: str | None = None) -> IntakeResult:
        payment = await self.authenticate(provider, token)
        return await self.accept_for(inbox, payment, body, kind)

    async def authenticate(self, provider: str, token: str | None) -> Payment:
        """The payment the ``?token=`` belongs to. Needs no body, so the route calls it
        before reading one: a stranger's upload is refused without being received."""
        if not token:
            raise self._reject(provider, "no_token")
        if not looks_like_callback_token(token):  # cannot be ours: no database look-up
            raise self._reject(provider, "bad_token")
        async with self._uow_factory() as uow:
            payment = await uow.payments.find_by_callback_hash(hash_secret(token))
        if payment is None or payment.provider != provider \
                or not secret_matches(token, payment.callback_token_hash):
            raise self._reject(provider, "bad_token")
        return payment

    async def accept_for(self, inbox: Inbox, payment: Payment, body: bytes,
                         kind: str | None = None) -> IntakeResult:
        """Parse and store the callback of an authenticated ``payment``."""
        provider = payment.provider
        adapter = self._providers.find(provider)
        if adapter is None:
            raise self._reject(provider, "not_configured")
        try:
            notice = adapter.parse_callback(body, kind=_kind(payment, kind))
        except ValueError as exc:
            self._count("callback_malformed", provider)
            raise MalformedCallback(f"the callback body cannot be read: {exc}") from None
        if provider == "orange_money" and not secret_matches(notice.notif_token or "",
                                                             payment.provider_secret_hash):
            raise self._reject(provider, "bad_notif_token")
        if payment.provider_reference and notice.provider_reference \
                and notice.provider_reference != payment.provider_reference:
            raise self._reject(provider, "wrong_reference")
        # Scoped to the payment: some providers' callbacks are only unique within one
        # payment (a MoMo failure has no transaction id), and two payments' identical
        # callbacks must not be taken for one delivery.
        result = await inbox.receive(InboundEvent(
            provider=provider, event_id=f"{payment.id}:{notice.event_id}"[:255],
            event_type=f"payment.{notice.kind}", payload=_payload(payment, notice),
            subject_id=payment.id))
        self._count("callback_duplicate" if result.duplicate else "callback_accepted", provider)
        return result


class CallbackHandler:
    """Inbox handler for ``mpesa``, ``mtn_momo`` and ``orange_money`` events."""

    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, settler: Settler,
                 providers: ProviderDirectory, config: PaymentConfig) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settler = settler
        self._providers = providers
        self._config = config

    async def __call__(self, event: WebhookEvent) -> None:
        payload = event.payload
        payment = await self._settler.load(event.subject_id or "")
        if payment is None:
            raise PermanentEventError("the callback names no stored payment")
        if is_final(payment.direction, payment.status):
            claimed = target_of(payment.direction, str(payload.get("claimed_state")))
            if claimed is not None and claimed != payment.status:
                self._settler.count("late_callback", payment.provider)
                log.warning("callback contradicts a final payment", extra={
                    "payment_id": payment.id, "provider": payment.provider,
                    "status": payment.status.value})
            return
        reference = payload.get("provider_reference")
        if payment.provider_reference is None and isinstance(reference, str) and reference:
            # The token proved the callback is ours; now the reference can be queried.
            async with self._uow_factory() as uow:
                await uow.payments.update(payment.id, {"provider_reference": reference[:255],
                                                       "updated_at": self._clock.now()})
                await uow.commit()
            payment = await self._settler.load(payment.id) or payment
        if payload.get("kind") == "payout_timeout":
            async with self._uow_factory() as uow:  # query soon; never resend
                await uow.payments.update(payment.id, {"next_check_at": self._clock.now()})
                await uow.commit()
        ours = payment.direction == Direction.PAYOUT and payload.get("kind") == "payout" \
            and payload.get("attempt_key") == payment.attempt_key
        if ours and payment.provider in ASYNC_PAYOUT_STATUS:
            # M-Pesa B2C: this result (or the answer to our Transaction Status query) IS the
            # asynchronous status answer; a synchronous query would only answer "unknown".
            status = ProviderStatus(state="unknown")
        else:
            token = await status_token(self._uow_factory, self._clock, payment)
            found = await query_status(self._providers, self._config, payment, token)
            if found is None:
                return  # cannot ask the provider: the reconciler expires it in time
            status = found
        if status.state == "unknown" and ours:
            status = ProviderStatus(state=_state(payload.get("claimed_state")),
                                    provider_transaction_id=_str(payload.get(
                                        "provider_transaction_id")),
                                    reason=_str(payload.get("reason")))
        if status.provider_transaction_id is None:  # M-Pesa's query has no receipt number
            status = replace(status, provider_transaction_id=_str(
                payload.get("provider_transaction_id")))
        claimed_amount = payload.get("claimed_amount_minor")
        claims = Claims(amount_minor=claimed_amount if isinstance(claimed_amount, int) else None,
                        currency=_str(payload.get("claimed_currency")),
                        payer_sha256=_str(payload.get("claimed_payer_sha256")))
        await self._settler.apply_status(payment, status, TransitionSource.CALLBACK, claims)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _state(value: object) -> Any:
    return value if value in ("succeeded", "failed", "cancelled", "expired") else "unknown"
