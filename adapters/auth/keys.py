"""Ed25519 signing keys for v4.public tokens, as PASERK (k4.secret / k4.public / k4.pid)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyseto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

LOCAL_KEY_FILE = "signing-key.paserk"


@dataclass(frozen=True)
class KeyPair:
    secret_paserk: str
    public_paserk: str

    @property
    def kid(self) -> str:
        return public_key_id(self.public_paserk)


def generate_key_pair() -> KeyPair:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(
        secret_paserk=pyseto.Key.new(4, "public", private_pem).to_paserk(),
        public_paserk=pyseto.Key.new(4, "public", public_pem).to_paserk(),
    )


def public_from_secret(secret_paserk: str) -> str:
    secret = pyseto.Key.from_paserk(secret_paserk)
    raw = secret._key  # cryptography Ed25519PrivateKey inside pyseto's key object
    public_pem = raw.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return str(pyseto.Key.new(4, "public", public_pem).to_paserk())


def public_key_id(public_paserk: str) -> str:
    return str(pyseto.Key.from_paserk(public_paserk).to_paserk_id())


def load_or_create_local_key(data_dir: Path) -> KeyPair:
    """The embedded default's own key: created on first start, readable only by its owner."""
    path = data_dir / LOCAL_KEY_FILE
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if not secret.startswith("k4.secret."):
            raise ValueError(f"{path} does not hold a k4.secret PASERK")
        return KeyPair(secret_paserk=secret, public_paserk=public_from_secret(secret))
    data_dir.mkdir(parents=True, exist_ok=True)
    pair = generate_key_pair()
    # O_EXCL: two processes starting at once must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_local_key(data_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(pair.secret_paserk + "\n")
    return pair
