"""Starting a collection or payout: validate, commit the payment, THEN call the provider.

1. The request is validated (amount, currency, provider market, phone in E.164) and hashed.
2. The ``Idempotency-Key`` (scoped to the caller) is looked up: the same key with the same
   request answers the first payment and calls no provider again; with another request it is
   a conflict.
3. The payment is committed as ``created`` with a fresh ``attempt_key`` and callback token,
   marked ``initiated`` (the request may reach the provider from now on).
4. The provider is called:

   - acknowledgement -> ``pending`` with the provider reference;
   - ``ProviderRejected`` -> ``failed`` with the reason;
   - ``ProviderUnavailable(request_sent=False)`` -> stays ``created``; the reconciler sends it
     again (same attempt key, new token) until it expires;
   - ``ProviderUnavailable(request_sent=True)`` -> ``pending`` without a reference: the outcome
     is unknown, so it is queried (MoMo, by attempt key) or expires; it is NEVER sent again.

Stripe payments are registered only (``created``): a real deployment creates the
PaymentIntent or Checkout Session with Stripe, passing ``metadata.cari_payment_id``, and
Stripe's signed events move the payment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import replace
from datetime import timedelta

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.errors import Conflict, InvalidInput
from resolvers.ids import new_id
from resolvers.payments.config import PaymentConfig, ProviderDirectory, collection_request, payout_request
from resolvers.payments.model import (
    KNOWN_CURRENCIES,
    MAX_AMOUNT_MINOR,
    PROVIDERS,
    Direction,
    DuplicatePayment,
    Payment,
    PaymentRequest,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
    hash_secret,
    new_callback_token,
)
from resolvers.payments.phone import check_amount, check_market, normalise_phone, phone_country
from resolvers.payments.providers import ProviderAck, ProviderRejected, ProviderUnavailable
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.settle import Settler
from resolvers.payments.view import PaymentView, payment_view
from resolvers.principal import Caller

log = logging.getLogger("cari.payments")
S = PaymentStatus
PAYOUT_PROVIDERS = ("mpesa", "mtn_momo", "orange_money")


class IdempotencyConflict(Conflict):
    code = "conflict"


def _problem(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, details=[{"field": field, "message": message}])


def validate(request: PaymentRequest) -> PaymentRequest:
    """The request normalised (phone in E.164, upper-case codes), or InvalidInput."""
    try:
        return _validate(request)
    except InvalidInput as exc:
        if isinstance(exc.details, dict):  # phone.py's shape: one field; ours: a list
            raise _problem(str(exc.details.get("field", "body")), exc.message) from None
        raise


def _validate(request: PaymentRequest) -> PaymentRequest:
    provider = request.provider.strip().lower()
    currency = request.currency.strip().upper()
    if provider not in PROVIDERS:
        raise _problem("provider", f"provider must be one of {', '.join(PROVIDERS)}")
    if request.direction == Direction.PAYOUT and provider not in PAYOUT_PROVIDERS:
        raise _problem("provider", f"payouts go through {', '.join(PAYOUT_PROVIDERS)}")
    if isinstance(request.amount_minor, bool) or not isinstance(request.amount_minor, int) \
            or not 0 < request.amount_minor <= MAX_AMOUNT_MINOR:
        raise _problem("amount", "amount must be a positive whole number of minor units")
    if currency not in KNOWN_CURRENCIES:
        raise _problem("currency", "currency must be an ISO 4217 code this gateway knows")
    reference = request.reference.strip()
    if not reference or len(reference) > 64:
        raise _problem("reference", "reference must be 1 to 64 characters")
    country = (request.country or "").strip().upper() or None
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise _problem("country", "country must be an ISO 3166 alpha-2 code, e.g. KE")
    phone = None
    if provider == "stripe":
        if request.phone:
            phone = normalise_phone(request.phone, country)
    else:
        market = check_market(provider, currency, country)
        check_amount(provider, request.amount_minor, currency)
        if not request.phone:
            raise _problem("phone", f"{provider} needs the payer's phone number")
        # A national number is read in the caller's country or, without one, in the market's
        # only country (M-Pesa: KE); an international number carries its own country.
        only_country = next(iter(market.countries)) if len(market.countries) == 1 else None
        phone = normalise_phone(request.phone, country or only_country)
        if country is None and market.countries:
            country = phone_country(phone)
        check_market(provider, currency, country)
    return replace(request, provider=provider, currency=currency, phone=phone,
                   reference=reference, country=country,
                   description=request.description.strip()[:200])


def request_hash(request: PaymentRequest) -> str:
    canonical = json.dumps({k: str(v) if v is not None else None
                            for k, v in sorted(request.__dict__.items())}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise _problem("Idempotency-Key", "an Idempotency-Key header is required")
    key = key.strip()
    if len(key) > 255 or not key.isprintable():
        raise _problem("Idempotency-Key", "Idempotency-Key must be 1 to 255 printable characters")
    return key


class PaymentInitiation:
    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, settler: Settler,
                 providers: ProviderDirectory, config: PaymentConfig) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settler = settler
        self._providers = providers
        self._config = config

    async def start(self, caller: Caller, raw: PaymentRequest, key: str | None) -> PaymentView:
        key = check_idempotency_key(key)
        request = validate(raw)
        digest = request_hash(request)
        async with self._uow_factory() as uow:
            first = await uow.payments.find_by_idempotency_key(caller.principal.subject, key)
        if first is not None:
            return self._replay(first, digest)
        if request.provider != "stripe":
            provider = self._providers.get(request.provider)
            if request.currency not in provider.currencies:
                raise _problem("currency", f"{request.provider} is configured for "
                               f"{', '.join(sorted(provider.currencies))} only")
        payment, token = await self._create(caller, request, key, digest)
        if payment is None:  # a concurrent request with the same key won
            async with self._uow_factory() as uow:
                first = await uow.payments.find_by_idempotency_key(caller.principal.subject, key)
            if first is None:
                raise Conflict("the same Idempotency-Key is being used concurrently; retry")
            return self._replay(first, digest)
        if payment.provider != "stripe":
            payment = await self.send(payment, token)
        return payment_view(payment)

    @staticmethod
    def _replay(first: Payment, digest: str) -> PaymentView:
        if first.request_hash != digest:
            raise IdempotencyConflict(
                "this Idempotency-Key was used for a different request",
                details=[{"field": "Idempotency-Key", "message": "reused with another body"}])
        return payment_view(first, replayed=True)

    async def _create(self, caller: Caller, request: PaymentRequest, key: str,
                      digest: str) -> tuple[Payment | None, str]:
        now = self._clock.now()
        token, token_hash = new_callback_token()
        timeout = (self._config.payout_timeout_seconds if request.direction == Direction.PAYOUT
                   else self._config.collection_timeout_seconds)
        stripe = request.provider == "stripe"
        payment = Payment(
            id=new_id(), provider=request.provider, direction=request.direction,
            amount_minor=request.amount_minor, currency=request.currency,
            phone_e164=request.phone, reference=request.reference,
            description=request.description, patient_id=request.patient_id,
            status=S.CREATED, idempotency_key=key, request_hash=digest,
            attempt_key=str(uuid.uuid4()), callback_token_hash=token_hash,
            provider_reference=None, provider_transaction_id=None, provider_secret_hash=None,
            redirect_url=None, failure_reason=None, created_by=caller.principal.subject,
            created_at=now, updated_at=now, expires_at=now + timedelta(seconds=timeout),
            # If we die during the provider call, the reconciler finds it here.
            next_check_at=None if stripe else self._config.next_check(now, 0),
            initiated=not stripe)
        created = PaymentTransition(id=new_id(), payment_id=payment.id, from_status=None,
                                    to_status=S.CREATED, reason=f"{request.direction.value} requested",
                                    source=TransitionSource.API, at=now)
        async with self._uow_factory() as uow:
            if request.patient_id is not None:
                found = await uow.patients.get_many([request.patient_id])
                if request.patient_id not in found:
                    raise _problem("patient_id", "no patient with this id")
            try:
                await uow.payments.add(payment, created)
            except DuplicatePayment:
                return None, token
            await uow.audit.append(audit_records(
                caller, action=AuditAction.CREATE, resource_type="Payment",
                targets=[(payment.id, payment.patient_id)], outcome=AuditOutcome.SUCCESS, at=now))
            await uow.commit()
        log.info("payment created", extra={"payment_id": payment.id, "provider": payment.provider,
                                           "direction": payment.direction.value})
        return payment, token

    async def send(self, payment: Payment, token: str) -> Payment:
        """One provider call for a ``created`` payment that is marked initiated."""
        provider = self._providers.get(payment.provider)
        try:
            if payment.direction == Direction.PAYOUT:
                ack = await provider.initiate_payout(payout_request(payment, self._config, token))
            else:
                ack = await provider.initiate_collection(
                    collection_request(payment, self._config, token))
        except ProviderRejected as exc:
            self._settler.count("rejected", payment.provider)
            return await self._settler.move(
                payment, S.FAILED, f"provider refused: {exc.code}", TransitionSource.API,
                {"failure_reason": f"{exc.code}: {exc.message}"[:500]})
        except ProviderUnavailable as exc:
            return await self._unavailable(payment, exc)
        return await self._acknowledged(payment, ack)

    async def _acknowledged(self, payment: Payment, ack: ProviderAck) -> Payment:
        now = self._clock.now()
        changes: dict[str, object] = {
            "provider_reference": ack.provider_reference[:255],
            "redirect_url": ack.redirect_url, "next_check_at": self._config.next_check(now, 0)}
        notif_token = ack.extra.get("notif_token")
        if notif_token:
            changes["provider_secret_hash"] = hash_secret(notif_token)
        return await self._settler.move(payment, S.PENDING, "provider accepted the request",
                                        TransitionSource.API, changes)

    async def _unavailable(self, payment: Payment, exc: ProviderUnavailable) -> Payment:
        now = self._clock.now()
        self._settler.count("provider_unavailable", payment.provider)
        if not exc.request_sent:
            async with self._uow_factory() as uow:
                await uow.payments.update(payment.id, {
                    "initiated": False, "updated_at": now,
                    "next_check_at": now + timedelta(seconds=self._config.retry_seconds)})
                await uow.commit()
            log.info("payment provider unreachable; will send again",
                     extra={"payment_id": payment.id, "provider": payment.provider})
            return await self._settler.load(payment.id) or payment
        return await self._settler.move(
            payment, S.PENDING, "provider unreachable after the request was sent: outcome "
            "unknown, to be queried", TransitionSource.API,
            {"next_check_at": self._config.next_check(now, 0)})
