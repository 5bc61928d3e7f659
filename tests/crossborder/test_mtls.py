"""An HIE with mutual TLS: the gateway presents its client certificate (CARI_HIE_<CC>_AUTH=
mtls) through the guarded transport. The HIE is an HTTPS proxy that requires a certificate
from its CA, in front of a real FHIR stand-in."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.settings.hie import HieSettings
from resolvers.crossborder.countries import DEFAULT_PROFILES
from resolvers.crossborder.model import AuthKind, QueryMode
from tests.crossborder.proxy import running_proxy
from tests.medplum.harness import MedplumServer
from tests.support import make_settings, running_app


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


Issuer = tuple[x509.Name, ec.EllipticCurvePrivateKey]


def _issue(directory: Path, stem: str, subject: str, issuer: Issuer | None, *, ca: bool = False,
           server: bool = False) -> tuple[Path, Path, x509.Name, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(subject)
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, name, key


@pytest.fixture
def pki(tmp_path: Path) -> Iterator[Pki]:
    ca_cert, _, ca_name, ca_key = _issue(tmp_path, "ca", "Test HIE CA", None, ca=True)
    server_cert, server_key, _, _ = _issue(tmp_path, "server", "hie", (ca_name, ca_key),
                                           server=True)
    client_cert, client_key, _, _ = _issue(tmp_path, "client", "cari-gateway", (ca_name, ca_key))
    yield Pki(ca_cert, server_cert, server_key, client_cert, client_key)


def _server_tls(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
    return context


def _za(base_url: str, cert: Path, key: Path, ca: Path) -> HieSettings:
    return HieSettings(overrides={"ZA": {
        "base_url": base_url, "auth": AuthKind.MTLS, "mode": QueryMode.PDQM,
        "identifier_system": DEFAULT_PROFILES["KE"].identifier_system,
        "client_cert": str(cert), "client_key": str(key), "ca_bundle": str(ca),
        "timeout_seconds": 3.0}})


@pytest.mark.parametrize("trusted", [True, False])
async def test_mutual_tls_hie(tmp_path: Path, sqlite_url: str, pki: Pki, trusted: bool,
                              standins: dict[str, MedplumServer]) -> None:
    cert, key = pki.client_cert, pki.client_key
    if not trusted:  # a certificate from another CA: the HIE refuses the handshake
        other_ca = _issue(tmp_path, "other-ca", "Other CA", None, ca=True)
        cert, key, _, _ = _issue(tmp_path, "stranger", "stranger", (other_ca[2], other_ca[3]))
    async with running_proxy(standins["KE"].base_url, tls=_server_tls(pki)) as hie:
        # The stand-in's token-free FHIR API: this HIE authenticates by certificate only.
        settings = make_settings(tmp_path / "var", sqlite_url, outbox_worker=False,
                                 payments_reconcile_seconds=0.0, outbound_allowlist=("127.0.0.1",),
                                 hie=_za(f"{hie.base_url}/__admin/fhir/R4", cert, key, pki.ca))
        async with running_app(settings) as h:
            response = await h.client.get("/api/fhir/cross-border/Patient/12345678?country=ZA",
                                          headers=h.auth("clinician"))
    if trusted:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 1 and body["meta"]["source"].startswith("https://127.0.0.1:")
        assert hie.seen >= 1
    else:
        assert response.status_code == 502, response.text
        assert "unreachable" in response.json()["issue"][0]["diagnostics"]
        assert hie.seen == 0
