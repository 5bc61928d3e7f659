"""Reconciliation: settle open payments whose next check has come, by asking the provider.

Each due payment is first *claimed* by moving its ``next_check_at`` forward with a
compare-and-set, so two gateway processes never work on the same payment at once. Then:

- ``created``, never sent (the provider was unreachable): sent again with the same attempt
  key and a new callback token, until it expires (``expired``, "never reached the provider");
- ``created`` or ``pending`` with a reference to ask by: the status query settles it. MTN
  calls back once without retry, so this is also the MoMo poller;
- no reference to ask by (an M-Pesa STK push whose acknowledgement was lost): nothing can be
  asked and nothing is re-sent; at ``expires_at`` the payment becomes ``expired``;
- collections that the provider still reports pending long after their expiry
  (``unresolved_grace_seconds``) become ``expired``; payouts are never given up on by us:
  they are queried (with backoff up to ``max_check_interval_seconds``) until the provider
  answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import timedelta

from resolvers.clock import Clock
from resolvers.payments.config import PaymentConfig, ProviderDirectory
from resolvers.payments.initiate import PaymentInitiation
from resolvers.payments.model import (
    Direction,
    Payment,
    PaymentStatus,
    TransitionSource,
    new_callback_token,
)
from resolvers.payments.providers import ProviderUnavailable
from resolvers.payments.query import query_reference, query_status, status_token
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.settle import Settler

log = logging.getLogger("cari.payments")
S = PaymentStatus
BATCH = 50


class PaymentReconciler:
    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, settler: Settler,
                 providers: ProviderDirectory, config: PaymentConfig,
                 initiation: PaymentInitiation) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settler = settler
        self._providers = providers
        self._config = config
        self._initiation = initiation

    async def run_once(self) -> int:
        """One pass over the due payments; returns how many were looked at."""
        return sum((await self.run_pass()).values())

    async def run_pass(self) -> dict[str, int]:
        """One pass over the due payments; how many of them ended in each status, or
        ``provider_unavailable`` / ``error`` when they could not be looked at this time."""
        now = self._clock.now()
        async with self._uow_factory() as uow:
            due = await uow.payments.due(now, BATCH)
        outcomes: Counter[str] = Counter()
        for payment in due:
            claimed = await self._claim(payment)
            if claimed is None:
                continue  # another process took it
            try:
                await self._settle(claimed)
            except ProviderUnavailable:
                outcomes["provider_unavailable"] += 1
                log.info("payment provider unavailable during reconciliation",
                         extra={"payment_id": payment.id, "provider": payment.provider})
                continue
            except Exception:  # one bad payment must not stop the pass
                outcomes["error"] += 1
                log.exception("payment reconciliation failed",
                              extra={"payment_id": payment.id, "provider": payment.provider})
                continue
            settled = await self._settler.load(payment.id)
            outcomes[settled.status.value if settled is not None else "error"] += 1
        return dict(outcomes)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("payment reconciliation pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _claim(self, payment: Payment) -> Payment | None:
        now = self._clock.now()
        changes = {"next_check_at": self._config.next_check(now, payment.checks + 1),
                   "checks": payment.checks + 1}
        async with self._uow_factory() as uow:
            won = await uow.payments.update(payment.id, changes,
                                            expected_next_check=payment.next_check_at)
            await uow.commit()
        return await self._settler.load(payment.id) if won else None

    async def _settle(self, payment: Payment) -> None:
        now = self._clock.now()
        source = TransitionSource.RECONCILE
        if payment.status == S.CREATED and not payment.initiated:
            if now >= payment.expires_at:
                await self._settler.move(payment, S.EXPIRED, "never reached the provider", source)
                return
            await self._resend(payment)
            return
        if query_reference(payment) is None:
            if now >= payment.expires_at and payment.direction == Direction.COLLECTION:
                await self._settler.move(
                    payment, S.EXPIRED, "outcome unknown and not queryable: expired, not resent",
                    source, {"failure_reason": "no provider reference"})
            return
        token = await status_token(self._uow_factory, self._clock, payment)
        status = await query_status(self._providers, self._config, payment, token)
        if status is not None:
            settled = await self._settler.apply_status(payment, status, source)
            if settled.status not in (S.CREATED, S.PENDING):
                return
        deadline = payment.expires_at + timedelta(seconds=self._config.unresolved_grace_seconds)
        if payment.direction == Direction.COLLECTION and now >= deadline:
            await self._settler.move(payment, S.EXPIRED, "still unresolved long after expiry",
                                     source, {"failure_reason": "unresolved"})

    async def _resend(self, payment: Payment) -> None:
        """Send again a request that surely never reached the provider (same attempt key)."""
        token, token_hash = new_callback_token()
        async with self._uow_factory() as uow:
            await uow.payments.update(payment.id, {"initiated": True,
                                                   "callback_token_hash": token_hash,
                                                   "updated_at": self._clock.now()})
            await uow.commit()
        fresh = await self._settler.load(payment.id)
        if fresh is not None:
            await self._initiation.send(fresh, token)
