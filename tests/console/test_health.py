"""The health report: outbox depth per destination (SQLite and PostgreSQL), credentials that
expire, circuit states, masked settings, and the page itself."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.auth.certificates import PemCertificateReader
from adapters.db.engine import session_factory
from adapters.db.outbox import SqlOutboxStore, SqlOutboxWriter
from adapters.settings.masking import MASK, masked_settings
from resolvers.crossborder.breaker import CircuitBreakers
from resolvers.crossborder.model import HieCircuit
from resolvers.errors import Forbidden
from resolvers.operations.health.model import CredentialState
from resolvers.operations.health.report import HealthSources, OperationsHealth
from resolvers.outbox.model import DestinationDepth, NewOutboxMessage
from resolvers.principal import Caller, Principal
from tests.console.http_support import sign_in
from tests.support import Harness, make_settings, running_app

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.db
async def test_outbox_depth_per_destination(tmp_path: Path, database_url: str) -> None:
    # No worker: the rows are settled by hand (their destinations have no handler).
    async with running_app(make_settings(tmp_path / "var", database_url,
                                         outbox_worker=False)) as gateway:
        await _depths(gateway)


async def _depths(gateway: Harness) -> None:
    sessions = session_factory(gateway.engine)
    store = SqlOutboxStore(sessions)
    now = datetime.now(UTC)
    async with sessions() as session:
        writer = SqlOutboxWriter(session, lambda: now)
        await writer.enqueue([NewOutboxMessage(destination, {"n": i}, uuid.uuid4().hex)
                              for i, destination in enumerate(["c1-a"] * 4 + ["c1-b"] * 2)])
        await session.commit()
    # The worker is off for these destinations (no handler): settle rows by hand.
    claimed = await store.claim_due(now=now + timedelta(days=1), limit=100,
                                    lease_until=now + timedelta(days=2), claim_token="t")
    mine = [m for m in claimed if m.destination.startswith("c1-")]
    a = [m for m in mine if m.destination == "c1-a"]
    b = [m for m in mine if m.destination == "c1-b"]
    assert await store.mark_delivered(a[0].id, "t", now)
    assert await store.mark_failed(a[1].id, "t", error="HTTP 503", dead=True,
                                   next_attempt_at=now)
    assert await store.mark_failed(a[2].id, "t", error="HTTP 500", dead=False,
                                   next_attempt_at=now + timedelta(hours=1))
    assert await store.mark_delivered(b[0].id, "t", now - timedelta(minutes=5))
    assert await store.mark_delivered(b[1].id, "t", now)
    depths = {d.destination: d for d in await store.depth_by_destination()}
    got_a, got_b = depths["c1-a"], depths["c1-b"]
    assert (got_a.pending, got_a.failing, got_a.in_flight, got_a.dead,
            got_a.delivered_last_hour) == (0, 1, 1, 1, 1)
    assert (got_b.delivered_last_hour, got_b.dead, got_b.failing) == (2, 0, 0)
    assert got_b.last_delivered_at == now
    # An old delivery counts as the last one, not as one of the last hour.
    async with sessions() as session:
        await SqlOutboxWriter(session, lambda: now).enqueue(
            [NewOutboxMessage("c1-c", {}, uuid.uuid4().hex)])
        await session.commit()
    old = [m for m in await store.claim_due(now=now + timedelta(days=1), limit=100,
                                            lease_until=now + timedelta(days=2),
                                            claim_token="u") if m.destination == "c1-c"]
    assert await store.mark_delivered(old[0].id, "u", now - timedelta(hours=3))
    got_c = {d.destination: d for d in await store.depth_by_destination()}["c1-c"]
    assert (got_c.delivered_last_hour, got_c.last_delivered_at) == (0, now - timedelta(hours=3))


class _Certificates:
    def __init__(self, expiries: dict[str, datetime]) -> None:
        self.expiries = expiries

    def not_after(self, path: str) -> datetime:
        if path not in self.expiries:
            raise FileNotFoundError(path)
        return self.expiries[path]


class _Hies:
    def circuits(self) -> list[HieCircuit]:
        return [HieCircuit("KE", "Kenya", "https://hie.ke/fhir", "open", 5, None, "ke.pem"),
                HieCircuit("GH", "Ghana", "https://hie.gh/fhir", "closed", 0, NOW, "gh.pem"),
                HieCircuit("NG", "Nigeria", "https://hie.ng/fhir", "closed", 0, None, "")]


class _Probe:
    async def ready(self) -> dict[str, str]:
        return {"database": "ok"}


class _Stats:
    async def depth_by_destination(self) -> list[DestinationDepth]:
        return [DestinationDepth("medplum", pending=2, dead=1)]


class _Clock:
    def now(self) -> datetime:
        return NOW


def _caller(*roles: str) -> Caller:
    return Caller(Principal("op", frozenset(roles)), surface="console")


async def test_the_report_says_which_credentials_expire() -> None:
    expired: list[bool] = [True]
    health = OperationsHealth(HealthSources(
        probe=_Probe(), outbox=_Stats(), hies=_Hies(), clock=_Clock(),
        certificates=_Certificates({"ke.pem": NOW + timedelta(days=10),
                                    "mllp.pem": NOW - timedelta(days=1)}),
        certificate_files=[("MLLP server certificate", "mllp.pem")],
        token_keys=[("cari-gateway", "k4.pid.abc")],
        whatsapp_token_expired=lambda: expired[0]))
    report = await health.report(_caller("integrator"))
    states = {c.name: c.state for c in report.credentials}
    assert states == {"HIE KE client certificate": CredentialState.EXPIRING,
                      "HIE GH client certificate": CredentialState.UNREADABLE,
                      "MLLP server certificate": CredentialState.EXPIRED,
                      "WhatsApp Cloud API access token": CredentialState.EXPIRED,
                      "token issuer cari-gateway": CredentialState.NO_EXPIRY}
    assert report.is_ready and report.destinations[0].dead == 1
    assert [c.state for c in report.circuits] == ["open", "closed", "closed"]
    with pytest.raises(Forbidden):
        await health.report(_caller("clinician"))


def test_a_pem_certificate_expiry_is_read(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cari-test")])
    not_after = datetime(2027, 3, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "client.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert PemCertificateReader().not_after(str(path)) == not_after
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ValueError):
        PemCertificateReader().not_after(str(tmp_path / "junk.pem"))


def test_circuit_states() -> None:
    now = [0.0]
    breakers = CircuitBreakers(lambda: now[0], threshold=2, reset_seconds=10)
    assert breakers.state("x") == ("closed", 0)
    breakers.failed("x")
    assert breakers.state("x") == ("closed", 1)
    breakers.failed("x")
    assert breakers.state("x") == ("open", 2)
    now[0] = 11
    assert breakers.state("x") == ("half_open", 2)
    breakers.succeeded("x")
    assert breakers.state("x") == ("closed", 0)


def test_settings_are_masked(tmp_path: Path) -> None:
    settings = replace(
        make_settings(tmp_path, "postgresql+asyncpg://cari:s3cret-pw@db.example/cari"),
        stripe_api_key="sk_live_abcdef", medplum_client_secret="medplum-secret",
        lead_sources=(("website", "lead-hmac-secret"),),
        event_webhook_url="https://user:hook-pass@hooks.example/in",
        extra={"ACME_TOKEN": "acme-value"})
    shown = {s.name: s.value for s in masked_settings(settings)}
    text = repr(shown)
    for secret in ("s3cret-pw", "sk_live_abcdef", "medplum-secret", "lead-hmac-secret",
                   "hook-pass", "acme-value"):
        assert secret not in text, secret
    assert shown["database_url"] == f"postgresql+asyncpg://{MASK}@db.example/cari"
    assert shown["stripe_api_key"] == MASK and shown["lead_sources"] == f"website={MASK}"
    assert shown["event_webhook_url"] == f"https://{MASK}@hooks.example/in"
    assert shown["token_issuer"] == "cari-gateway"  # not a secret though named "token"
    assert shown["whatsapp.access_token"] == ""  # unset stays visibly unset
    assert shown["port"] == "8000"


async def test_the_health_page_shows_the_report_with_secrets_masked(
        tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url, stripe_api_key="sk_test_visible")
    async with running_app(settings) as gateway:
        await sign_in(gateway, "admin")
        page = await gateway.client.get("/console/health")
        assert page.status_code == 200
        assert "sk_test_visible" not in page.text and "stripe_api_key" in page.text
        assert 'id="outbox-depth"' in page.text and "KE · Kenya" in page.text
        assert "token issuer cari-gateway" in page.text
