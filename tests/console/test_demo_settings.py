"""The quick start's settings file (``make run`` = ``cari-gateway serve --demo``): written
once, read under what the operator exported, and loading as a working configuration."""

from __future__ import annotations

import stat
from pathlib import Path

from adapters.demo.quickstart import (
    apply_demo_env,
    demo_env_path,
    ensure_demo_env,
    read_env_file,
    sandbox_address,
    sandbox_credentials,
)
from adapters.settings import load_settings


def test_written_once_owner_only_and_loads_as_settings(tmp_path: Path) -> None:
    env = {"CARI_DATA_DIR": str(tmp_path / "var")}
    path = demo_env_path(env)
    assert ensure_demo_env(path, 8901) is True
    first = read_env_file(path)
    assert ensure_demo_env(path, 9999) is False  # never rewritten: the secrets stay put
    assert read_env_file(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["CARI_STRIPE_WEBHOOK_SECRETS"].startswith("whsec_")
    assert first["CARI_MPESA_BASE_URL"] == "http://127.0.0.1:8901"
    assert first["CARI_OUTBOUND_ALLOWLIST"] == "127.0.0.1:8901"  # the sandbox, by name
    apply_demo_env(env)
    settings = load_settings(env)
    mpesa = settings.payment_providers.mpesa
    assert mpesa is not None and mpesa.base_url == "http://127.0.0.1:8901"
    assert settings.stripe_webhook_secrets == (first["CARI_STRIPE_WEBHOOK_SECRETS"],)
    assert settings.outbound_allowlist == ("127.0.0.1:8901",)
    assert sandbox_address(env, first) == ("127.0.0.1", 8901)
    assert sandbox_credentials(env) is not None


def test_two_machines_get_different_secrets(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "demo.env", tmp_path / "b" / "demo.env"
    ensure_demo_env(a, 8901)
    ensure_demo_env(b, 8901)
    for key in ("CARI_STRIPE_WEBHOOK_SECRETS", "CARI_MPESA_CONSUMER_SECRET", "CARI_MPESA_PASSKEY"):
        assert read_env_file(a)[key] != read_env_file(b)[key]


def test_exported_settings_win_over_the_file(tmp_path: Path) -> None:
    env = {"CARI_DATA_DIR": str(tmp_path), "CARI_STRIPE_WEBHOOK_SECRETS": "whsec_mine_exported",
           "CARI_MPESA_BASE_URL": "https://sandbox.safaricom.co.ke"}
    ensure_demo_env(demo_env_path(env), 8901)
    values = apply_demo_env(env)
    assert env["CARI_STRIPE_WEBHOOK_SECRETS"] == "whsec_mine_exported"
    assert env["CARI_MPESA_PASSKEY"] == values["CARI_MPESA_PASSKEY"]  # what was not exported
    assert sandbox_address(env, values) is None  # M-Pesa points elsewhere: no sandbox


def test_without_the_file_nothing_changes(tmp_path: Path) -> None:
    env = {"CARI_DATA_DIR": str(tmp_path)}
    assert apply_demo_env(env) == {}
    assert env == {"CARI_DATA_DIR": str(tmp_path)}
    settings = load_settings(env)
    assert settings.payment_providers.mpesa is None and settings.stripe_webhook_secrets == ()
