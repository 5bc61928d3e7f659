from pathlib import Path

import pytest

from adapters.settings import SettingsError, load_settings


def test_defaults_give_embedded_sqlite_under_var() -> None:
    s = load_settings({})
    assert s.port == 8000 and s.host == "127.0.0.1"
    assert s.data_dir == Path("./var")
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.database_url.endswith("/var/cari.sqlite3")
    assert s.public_base_url == "http://127.0.0.1:8000"
    assert s.local_signing_key is True


def test_postgres_urls_are_normalised_to_asyncpg() -> None:
    s = load_settings({"CARI_DATABASE_URL": "postgres://u@db:5432/cari"})
    assert s.database_url == "postgresql+asyncpg://u@db:5432/cari"


def test_every_bad_variable_is_named_with_the_reason() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({
            "CARI_PORT": "eighty", "CARI_DATABASE_URL": "mysql://x", "CARI_LOG_LEVEL": "LOUD",
            "CARI_OUTBOUND_ALLOWLIST": "good.example, bad host!",
            "CARI_TOKEN_ISSUERS": "issuer-without-key", "CARI_CORS_ORIGINS": "not-a-url",
            "CARI_PUBLIC_BASE_URL": "ftp://x", "CARI_OUTBOX_MAX_ATTEMPTS": "0",
            "CARI_OUTBOX_WORKER": "maybe",
        })
    text = str(info.value)
    for fragment in ("CARI_PORT='eighty'", "CARI_DATABASE_URL", "CARI_LOG_LEVEL",
                     "'bad host!'", "CARI_TOKEN_ISSUERS", "CARI_CORS_ORIGINS",
                     "CARI_PUBLIC_BASE_URL", "CARI_OUTBOX_MAX_ATTEMPTS", "CARI_OUTBOX_WORKER"):
        assert fragment in text, fragment
    assert len(info.value.problems) == 9


def test_port_range_is_checked() -> None:
    with pytest.raises(SettingsError, match="at most 65535"):
        load_settings({"CARI_PORT": "70000"})


def test_trusted_issuers_parse_and_disabling_local_key_needs_them() -> None:
    s = load_settings({"CARI_TOKEN_ISSUERS": "https://idp.example=k4.public.abc, b=k4.public.def"})
    assert [(t.issuer, t.public_paserk) for t in s.trusted_issuers] == [
        ("https://idp.example", "k4.public.abc"), ("b", "k4.public.def")]
    with pytest.raises(SettingsError, match="needs CARI_TOKEN_ISSUERS"):
        load_settings({"CARI_LOCAL_SIGNING_KEY": "false"})


def test_allowlist_accepts_hosts_ports_and_cidrs() -> None:
    s = load_settings({"CARI_OUTBOUND_ALLOWLIST": "medplum.local:8103, 10.0.0.0/8, hie.go.ke, ::1"})
    assert s.outbound_allowlist == ("medplum.local:8103", "10.0.0.0/8", "hie.go.ke", "::1")


def test_lab_identifier_systems_as_a_list_or_json_and_their_problems() -> None:
    from adapters.settings.labs import load_lab_settings

    problems: list[str] = []
    listed = load_lab_settings({"CARI_LAB_IDENTIFIER_SYSTEMS":
                                "KNH_LAB=urn:oid:2.16.404.1.7, FACILITY=https://f.example/mrn"},
                               problems)
    as_json = load_lab_settings({"CARI_LAB_IDENTIFIER_SYSTEMS":
                                 '{"KNH_LAB": "urn:oid:2.16.404.1.7", '
                                 '"FACILITY": "https://f.example/mrn"}'}, problems)
    assert problems == []
    assert listed.identifier_systems == as_json.identifier_systems == (
        ("KNH_LAB", "urn:oid:2.16.404.1.7"), ("FACILITY", "https://f.example/mrn"))
    load_lab_settings({"CARI_LAB_IDENTIFIER_SYSTEMS": "KNH_LAB, X=not a uri",
                       "CARI_LAB_ALERT_WEBHOOK_URL": "ftp://x",
                       "CARI_LAB_PROVISIONAL_PATIENTS": "maybe"}, problems)
    assert any("'KNH_LAB': expected name=system-uri" in p for p in problems), problems
    assert any("must be a URI" in p for p in problems)
    assert any("CARI_LAB_ALERT_WEBHOOK_URL" in p for p in problems)
    assert any("CARI_LAB_PROVISIONAL_PATIENTS" in p for p in problems)
