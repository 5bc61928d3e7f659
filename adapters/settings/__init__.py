"""Gateway settings, read from ``CARI_*`` environment variables and validated at start.

Every problem is collected before failing so an operator fixes them all in one go;
each message names the variable and says what is wrong with it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from adapters.settings import webhooks as webhook_settings
from adapters.settings.cds import CdsSettings, load_cds_settings
from adapters.settings.console import ConsoleSettings, load_console_settings
from adapters.settings.dhis2 import Dhis2Settings, load_dhis2_settings
from adapters.settings.hie import HieSettings, load_hie_settings
from adapters.settings.labs import LabSettings, load_lab_settings
from adapters.settings.messaging_uses import load_messaging_uses_settings
from adapters.settings.pacs import PacsSettings, load_pacs_settings
from adapters.settings.payments import (
    PaymentProviderSettings,
    load_payment_provider_settings,
)
from adapters.settings.smart import SmartSettings, load_smart_settings
from adapters.settings.webhooks_out import WebhookOutSettings, load_webhook_out_settings
from adapters.settings.whatsapp import WhatsAppSettings, load_whatsapp_settings
from resolvers.messaging_uses.model import MessagingUsesConfig

ALLOWED_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """Raised with every invalid ``CARI_*`` variable listed, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens we accept, with one of its Ed25519 public keys (PASERK)."""

    issuer: str
    public_paserk: str


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # server processes of `serve`; more than one needs PostgreSQL
    data_dir: Path = Path("./var")
    database_url: str = ""
    public_base_url: str = ""
    token_issuer: str = "cari-gateway"  # noqa: S105 (an issuer name, not a secret)
    token_audience: str = "cari-gateway"  # noqa: S105
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    local_signing_key: bool = True
    outbound_allowlist: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    http_timeout_seconds: float = 10.0
    outbox_worker: bool = True
    outbox_max_attempts: int = 10
    outbox_poll_seconds: float = 1.0
    outbox_backoff_base_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 3600.0
    outbox_lease_seconds: float = 60.0
    event_webhook_url: str = ""
    graphql_max_depth: int = 12
    graphql_max_cost: int = 5000
    graphiql: bool = True
    shutdown_timeout_seconds: float = 20.0
    # How long an idle HTTP connection stays open. Behind a load balancer it must be longer
    # than the balancer's own idle timeout, or a request sent on a connection the gateway is
    # closing fails (502 at the balancer, a reset at a client).
    keep_alive_seconds: int = 5
    db_pool_size: int = 10
    mllp_port: int = 0  # 0: no MLLP listener
    mllp_host: str = ""
    mllp_tls_cert: str = ""
    mllp_tls_key: str = ""
    mllp_tls_client_ca: str = ""
    medplum_base_url: str = ""
    medplum_client_id: str = ""
    medplum_client_secret: str = ""
    stripe_webhook_secrets: tuple[str, ...] = ()  # several during a secret roll
    stripe_api_key: str = field(default="", repr=False)  # sk_...: refunds; never logged
    stripe_api_base: str = "https://api.stripe.com"
    livekit_api_key: str = ""
    livekit_api_secret: str = ""
    resend_webhook_secret: str = ""
    lead_sources: tuple[tuple[str, str], ...] = ()  # (source name, HMAC secret)
    webhook_max_body_bytes: int = 1_048_576
    rate_limit_per_minute: int = 600  # per client and route family; 0: off
    rate_limit_webhook_per_minute: int = 1200  # per webhook route and source address; 0: off
    # CARI_HIE_*: cross-border HIE profile overrides, circuit breaker (adapters/settings/hie.py)
    hie: HieSettings = field(default_factory=HieSettings)
    # CARI_MPESA_*, CARI_MTN_MOMO_*, CARI_ORANGE_MONEY_*: see adapters/settings/payments.py
    payment_providers: PaymentProviderSettings = field(default_factory=PaymentProviderSettings)
    payments_reconcile_seconds: float = 15.0  # 0: no reconciliation task in this process
    # How often this process checks whether the MPI register changed kind (households or
    # individuals: resolvers/mpi/scoring/profile.py); 0 turns the check off.
    mpi_profile_seconds: float = 60.0
    payments_timeout_seconds: float = 300.0  # a collection not approved by then expires
    # CARI_LAB_*: sender identifier systems, provisional patients, alerts (adapters/settings/labs.py)
    labs: LabSettings = field(default_factory=LabSettings)
    org_scoping: bool = False  # confine clinician/lab/billing to their token's org (tenancy)
    # CARI_SMART_*: SMART on FHIR lifetimes (adapters/settings/smart.py)
    smart: SmartSettings = field(default_factory=SmartSettings)
    # CARI_CONSOLE_*: the operator console's sessions (adapters/settings/console.py)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    # CARI_CDS_*: CDS Hooks CORS, client JWT issuers, feedback window (adapters/settings/cds.py)
    cds: CdsSettings = field(default_factory=CdsSettings)
    # CARI_DHIS2_*: DHIS2 instances and the country mapping (adapters/settings/dhis2.py)
    dhis2: Dhis2Settings = field(default_factory=Dhis2Settings)
    # CARI_PACS_*: the PACS (DICOMweb), viewer tokens and URLs (adapters/settings/pacs.py)
    pacs: PacsSettings = field(default_factory=PacsSettings)
    # CARI_WEBHOOK_*: outbound webhook subscriptions (adapters/settings/webhooks_out.py)
    webhooks_out: WebhookOutSettings = field(default_factory=WebhookOutSettings)
    # CARI_WHATSAPP_*: the WhatsApp Cloud API channel (adapters/settings/whatsapp.py)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    # CARI_APPOINTMENT_*, CARI_LAB_RESULT_NOTIFY_*, CARI_REFILL_*, CARI_PATIENT_MESSAGE_*
    # (adapters/settings/messaging_uses.py)
    messaging_uses: MessagingUsesConfig = field(default_factory=MessagingUsesConfig)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _parse_bool(name: str, raw: str, problems: list[str]) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}={raw!r}: expected true/false (1/0, yes/no, on/off)")
    return False


def _parse_number(
    name: str, raw: str, problems: list[str], *, kind: type[int] | type[float], minimum: float
) -> float:
    try:
        value = kind(raw)
    except ValueError:
        problems.append(f"{name}={raw!r}: expected a {'whole number' if kind is int else 'number'}")
        return minimum
    if value < minimum:
        problems.append(f"{name}={raw!r}: must be at least {minimum:g}")
    return value


def _check_allowlist_entry(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
        return True
    except ValueError:
        pass
    host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if port and not port.isdigit():
        return False
    candidate = host or entry
    return all(part and (part.isalnum() or "-" in part or part == "*")
               for part in candidate.split("."))


def _split(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from an environment mapping; raise :class:`SettingsError`."""
    problems: list[str] = []
    get = env.get

    host = get("CARI_HOST", "127.0.0.1").strip() or "127.0.0.1"
    port = int(_parse_number("CARI_PORT", get("CARI_PORT", "8000"), problems, kind=int, minimum=0))
    if port > 65535:
        problems.append(f"CARI_PORT={port}: must be at most 65535")

    data_dir = Path(get("CARI_DATA_DIR", "./var")).expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        problems.append(f"CARI_DATA_DIR={data_dir}: exists and is not a directory")

    database_url = get("CARI_DATABASE_URL", "").strip()
    if not database_url:
        database_url = f"sqlite+aiosqlite:///{(data_dir / 'cari.sqlite3').resolve()}"
    elif database_url.startswith(("postgres://", "postgresql://")):
        # Operators paste libpq URLs; we always speak asyncpg.
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        problems.append(
            f"CARI_DATABASE_URL: unsupported scheme {urlsplit(database_url).scheme!r}; "
            "use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db"
        )

    public_base_url = get("CARI_PUBLIC_BASE_URL", "").strip().rstrip("/")
    if public_base_url:
        parts = urlsplit(public_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(
                f"CARI_PUBLIC_BASE_URL={public_base_url!r}: expected an absolute http(s) URL"
            )
    else:
        public_base_url = f"http://{host}:{port}"

    trusted: list[TrustedIssuer] = []
    for entry in _split(get("CARI_TOKEN_ISSUERS", "")):
        issuer, sep, key = entry.rpartition("=")
        if not sep or not issuer or not key.startswith("k4.public."):
            problems.append(
                f"CARI_TOKEN_ISSUERS entry {entry[:40]!r}: expected ISSUER=k4.public.<key> "
                "(an Ed25519 public key as PASERK)"
            )
            continue
        trusted.append(TrustedIssuer(issuer=issuer.strip(), public_paserk=key.strip()))

    allowlist = _split(get("CARI_OUTBOUND_ALLOWLIST", ""))
    for entry in allowlist:
        if not _check_allowlist_entry(entry):
            problems.append(
                f"CARI_OUTBOUND_ALLOWLIST entry {entry!r}: expected a host name, host:port, "
                "IP address or CIDR"
            )

    cors = _split(get("CARI_CORS_ORIGINS", ""))
    for origin in cors:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc):
            problems.append(f"CARI_CORS_ORIGINS entry {origin!r}: expected scheme://host[:port]")

    log_level = get("CARI_LOG_LEVEL", "INFO").strip().upper()
    if log_level not in ALLOWED_LOG_LEVELS:
        problems.append(f"CARI_LOG_LEVEL={log_level!r}: expected one of {ALLOWED_LOG_LEVELS}")

    event_webhook_url = get("CARI_EVENT_WEBHOOK_URL", "").strip()
    if event_webhook_url and urlsplit(event_webhook_url).scheme not in ("http", "https"):
        problems.append(f"CARI_EVENT_WEBHOOK_URL={event_webhook_url!r}: expected an http(s) URL")

    def number(name: str, default: str, kind: type[int] | type[float], minimum: float) -> float:
        return _parse_number(name, get(name, default), problems, kind=kind, minimum=minimum)

    settings = Settings(
        host=host,
        port=port,
        workers=int(number("CARI_WORKERS", "1", int, 1)),
        data_dir=data_dir,
        database_url=database_url,
        public_base_url=public_base_url,
        token_issuer=get("CARI_TOKEN_ISSUER", "cari-gateway").strip() or "cari-gateway",
        token_audience=get("CARI_TOKEN_AUDIENCE", "cari-gateway").strip() or "cari-gateway",
        trusted_issuers=tuple(trusted),
        local_signing_key=_parse_bool(
            "CARI_LOCAL_SIGNING_KEY", get("CARI_LOCAL_SIGNING_KEY", "true"), problems
        ),
        outbound_allowlist=allowlist,
        cors_origins=cors,
        log_level=log_level,
        http_timeout_seconds=number("CARI_HTTP_TIMEOUT", "10", float, 0.1),
        outbox_worker=_parse_bool("CARI_OUTBOX_WORKER", get("CARI_OUTBOX_WORKER", "true"), problems),
        outbox_max_attempts=int(number("CARI_OUTBOX_MAX_ATTEMPTS", "10", int, 1)),
        outbox_poll_seconds=number("CARI_OUTBOX_POLL_SECONDS", "1", float, 0.01),
        outbox_backoff_base_seconds=number("CARI_OUTBOX_BACKOFF_BASE", "2", float, 0.0),
        outbox_backoff_max_seconds=number("CARI_OUTBOX_BACKOFF_MAX", "3600", float, 0.0),
        outbox_lease_seconds=number("CARI_OUTBOX_LEASE_SECONDS", "60", float, 1.0),
        event_webhook_url=event_webhook_url,
        graphql_max_depth=int(number("CARI_GRAPHQL_MAX_DEPTH", "12", int, 2)),
        graphql_max_cost=int(number("CARI_GRAPHQL_MAX_COST", "5000", int, 10)),
        graphiql=_parse_bool("CARI_GRAPHIQL", get("CARI_GRAPHIQL", "true"), problems),
        shutdown_timeout_seconds=number("CARI_SHUTDOWN_TIMEOUT", "20", float, 0.0),
        keep_alive_seconds=int(number("CARI_KEEP_ALIVE_SECONDS", "5", int, 1)),
        db_pool_size=int(number("CARI_DB_POOL_SIZE", "10", int, 1)),
        mllp_port=int(number("CARI_MLLP_PORT", "0", int, 0)),
        mllp_host=get("CARI_MLLP_HOST", "").strip() or host,
        mllp_tls_cert=get("CARI_MLLP_TLS_CERT", "").strip(),
        mllp_tls_key=get("CARI_MLLP_TLS_KEY", "").strip(),
        mllp_tls_client_ca=get("CARI_MLLP_TLS_CLIENT_CA", "").strip(),
        medplum_base_url=get("CARI_MEDPLUM_BASE_URL", "").strip().rstrip("/"),
        medplum_client_id=get("CARI_MEDPLUM_CLIENT_ID", "").strip(),
        medplum_client_secret=get("CARI_MEDPLUM_CLIENT_SECRET", "").strip(),
        payments_reconcile_seconds=number("CARI_PAYMENTS_RECONCILE_SECONDS", "15", float, 0.0),
        mpi_profile_seconds=number("CARI_MPI_PROFILE_SECONDS", "60", float, 0.0),
        payments_timeout_seconds=number("CARI_PAYMENTS_TIMEOUT_SECONDS", "300", float, 10.0),
        payment_providers=load_payment_provider_settings(env, problems),
        labs=load_lab_settings(env, problems),
        smart=load_smart_settings(env, problems),
        console=load_console_settings(env, problems),
        cds=load_cds_settings(env, problems),
        org_scoping=_parse_bool("CARI_ORG_SCOPING", get("CARI_ORG_SCOPING", "false"), problems),
        stripe_webhook_secrets=webhook_settings.parse_stripe_secrets(
            get("CARI_STRIPE_WEBHOOK_SECRETS", ""), problems),
        stripe_api_key=get("CARI_STRIPE_API_KEY", "").strip(),
        stripe_api_base=get("CARI_STRIPE_API_BASE", "").strip().rstrip("/")
        or "https://api.stripe.com",
        livekit_api_key=get("CARI_LIVEKIT_API_KEY", "").strip(),
        livekit_api_secret=get("CARI_LIVEKIT_API_SECRET", "").strip(),
        resend_webhook_secret=get("CARI_RESEND_WEBHOOK_SECRET", "").strip(),
        lead_sources=webhook_settings.parse_lead_sources(get("CARI_LEAD_SOURCES", ""), problems),
        webhook_max_body_bytes=int(number("CARI_WEBHOOK_MAX_BODY_BYTES", "1048576", int, 1024)),
        rate_limit_per_minute=int(number("CARI_RATE_LIMIT_PER_MINUTE", "600", int, 0)),
        rate_limit_webhook_per_minute=int(number("CARI_RATE_LIMIT_WEBHOOK_PER_MINUTE", "1200",
                                                 int, 0)),
        hie=load_hie_settings(env, problems),
        dhis2=load_dhis2_settings(env, problems),
        webhooks_out=load_webhook_out_settings(env, problems),
        whatsapp=load_whatsapp_settings(env, problems),
        messaging_uses=load_messaging_uses_settings(env, problems),
        pacs=load_pacs_settings(env, problems),
    )
    webhook_settings.check_resend_secret(settings.resend_webhook_secret, problems)
    if bool(settings.livekit_api_key) != bool(settings.livekit_api_secret):
        problems.append("CARI_LIVEKIT_API_KEY and CARI_LIVEKIT_API_SECRET must be set together")
    medplum = (settings.medplum_base_url, settings.medplum_client_id,
               settings.medplum_client_secret)
    if any(medplum) and not all(medplum):
        problems.append("CARI_MEDPLUM_BASE_URL, CARI_MEDPLUM_CLIENT_ID and "
                        "CARI_MEDPLUM_CLIENT_SECRET must be set together (or none of them)")
    if settings.medplum_base_url and urlsplit(settings.medplum_base_url).scheme not in (
            "http", "https"):
        problems.append(f"CARI_MEDPLUM_BASE_URL={settings.medplum_base_url!r}: expected an "
                        "http(s) URL")
    if urlsplit(settings.stripe_api_base).scheme not in ("http", "https") or not urlsplit(
            settings.stripe_api_base).netloc:
        problems.append(f"CARI_STRIPE_API_BASE={settings.stripe_api_base!r}: expected an "
                        "absolute http(s) URL")
    if settings.stripe_api_key and not settings.stripe_api_key.startswith(("sk_", "rk_")):
        problems.append("CARI_STRIPE_API_KEY: expected a secret (sk_...) or restricted (rk_...) "
                        "Stripe key")
    if settings.mllp_port > 65535:
        problems.append(f"CARI_MLLP_PORT={settings.mllp_port}: must be at most 65535")
    if bool(settings.mllp_tls_cert) != bool(settings.mllp_tls_key):
        problems.append("CARI_MLLP_TLS_CERT and CARI_MLLP_TLS_KEY must be set together")
    for name, path in (("CARI_MLLP_TLS_CERT", settings.mllp_tls_cert),
                       ("CARI_MLLP_TLS_KEY", settings.mllp_tls_key),
                       ("CARI_MLLP_TLS_CLIENT_CA", settings.mllp_tls_client_ca)):
        if path and not Path(path).is_file():
            problems.append(f"{name}={path!r}: no such file")
    if not settings.local_signing_key and not trusted:
        problems.append(
            "CARI_LOCAL_SIGNING_KEY=false needs CARI_TOKEN_ISSUERS: no token could ever be verified"
        )
    if problems:
        raise SettingsError(problems)
    return settings
