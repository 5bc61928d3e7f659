"""Payment events at the source (SQLite and PostgreSQL): a confirmed callback announces
payment.succeeded, a failed one payment.failed; ids, provider and status only."""

from __future__ import annotations

from pathlib import Path

from resolvers.payments.providers import ProviderStatus
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid
from tests.notifications.support import subscribe, webhook_app
from tests.payments.fake_provider import FakeProvider, succeeded
from tests.payments.test_payments_callbacks import CALLBACK, body, start, status_of
from tests.receiver import wait_for


async def test_final_payment_statuses_are_announced(tmp_path: Path, database_url: str) -> None:
    fake = FakeProvider()
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url, payments_reconcile_seconds=0.0) as h:
        h.app.state.services.payments.providers.use({"mpesa": fake})
        made = await subscribe(h, receiver.url("pay"), ["payment.*"])
        paid, paid_token = await start(h, fake, key="k1")
        failed, failed_token = await start(h, fake, key="k2")
        fake.statuses[paid["provider_reference"]] = succeeded(150000, "+254712345678", "TX1")
        fake.statuses[failed["provider_reference"]] = ProviderStatus(
            state="failed", reason="1032: Request cancelled")
        for payment, token in ((paid, paid_token), (failed, failed_token)):
            r = await h.client.post(CALLBACK, params={"token": token}, content=body(
                payment["provider_reference"], amount=150000, payer="254712345678"))
            assert r.status_code == 200, r.text
        await status_of(h, paid["id"], "succeeded")
        await status_of(h, failed["id"], "failed")
        hook = receiver.hook("pay")
        await wait_for(lambda: len(hook.events()) == 2, timeout=10)
        got = {e["data"]["payment_id"]: e for e in hook.events()}
        assert got[paid["id"]]["type"] == "payment.succeeded"
        assert got[paid["id"]]["data"] == {"payment_id": paid["id"], "provider": "mpesa",
                                           "status": "succeeded"}
        assert got[failed["id"]]["type"] == "payment.failed"
        assert got[failed["id"]]["data"]["status"] == "failed"
        assert all(hit.verifies_with(made["secret"]) for hit in hook.ok_hits)
        assert all(b"254712345678" not in hit.body for hit in hook.hits)
        for event in hook.events():
            assert_valid(event)
