"""When each payment provider last answered, read from the stored transitions
(adapters/db/payment_answers.py), on SQLite and PostgreSQL: only transitions that record an
answer count, and the scan covers the newest transitions only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.db.engine import session_factory
from adapters.db.payment_answers import SqlProviderAnswers
from adapters.db.payments import SqlPaymentRepository
from resolvers.ids import new_id
from resolvers.payments.model import (
    Direction,
    Payment,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
)
from tests.support import make_settings, running_app

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
S = PaymentStatus


def _payment(provider: str) -> Payment:
    return Payment(
        id=new_id(), provider=provider, direction=Direction.COLLECTION, amount_minor=100,
        currency="KES", phone_e164=None, reference="INV-1", description="", patient_id=None,
        status=S.CREATED, idempotency_key=uuid.uuid4().hex, request_hash="h" * 64,
        attempt_key=str(uuid.uuid4()), callback_token_hash=uuid.uuid4().hex,
        provider_reference=None, provider_transaction_id=None, provider_secret_hash=None,
        redirect_url=None, failure_reason=None, created_by="test", created_at=T0,
        updated_at=T0, expires_at=T0 + timedelta(hours=1), next_check_at=None)


def _step(payment: Payment, frm: PaymentStatus, to: PaymentStatus, reason: str,
          source: TransitionSource, minutes: int) -> PaymentTransition:
    return PaymentTransition(new_id(), payment.id, frm, to, reason, source,
                             T0 + timedelta(minutes=minutes))


@pytest.mark.db
async def test_last_answer_per_provider(tmp_path: Path, database_url: str) -> None:
    async with running_app(make_settings(tmp_path / "var", database_url,
                                         payments_reconcile_seconds=0.0)) as gateway:
        mpesa, momo, stripe = _payment("mpesa"), _payment("mtn_momo"), _payment("stripe")
        sessions = session_factory(gateway.engine)
        async with sessions() as session:
            repo = SqlPaymentRepository(session)
            for p in (mpesa, momo, stripe):
                await repo.add(p, PaymentTransition(new_id(), p.id, None, S.CREATED,
                                                    "collection requested",
                                                    TransitionSource.API, T0))
            # In id (time) order: answers and non-answers.
            steps = [
                _step(mpesa, S.CREATED, S.PENDING, "provider accepted the request",
                      TransitionSource.API, 1),
                _step(mpesa, S.PENDING, S.SUCCEEDED, "provider reports succeeded",
                      TransitionSource.RECONCILE, 2),
                _step(momo, S.CREATED, S.PENDING, "provider unreachable after the request was "
                      "sent: outcome unknown, to be queried", TransitionSource.API, 3),
                _step(stripe, S.CREATED, S.SUCCEEDED, "payment_intent.succeeded",
                      TransitionSource.STRIPE, 4),
            ]
            for step in steps:
                assert step.from_status is not None
                assert await repo.transition(step.payment_id, step.from_status, step, {})
            await session.commit()

        answers = await SqlProviderAnswers(gateway.engine).last_answers()
        assert answers == {"mpesa": T0 + timedelta(minutes=2),
                           "stripe": T0 + timedelta(minutes=4)}  # MoMo never answered
        # Bounded: only the newest transitions are looked at.
        assert await SqlProviderAnswers(gateway.engine, scan_limit=2).last_answers() == {
            "stripe": T0 + timedelta(minutes=4)}
