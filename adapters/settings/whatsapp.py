"""``CARI_WHATSAPP_*`` settings of the WhatsApp Cloud API channel.

* ``CARI_WHATSAPP_ACCESS_TOKEN``: the system-user access token (Bearer).
* ``CARI_WHATSAPP_PHONE_NUMBER_ID``: the sending number's id; ``..._BUSINESS_ACCOUNT_ID``:
  the WABA whose templates are synced.
* ``CARI_WHATSAPP_APP_SECRET``: keys X-Hub-Signature-256 of webhook POSTs;
  ``CARI_WHATSAPP_VERIFY_TOKEN``: answers the GET verification handshake.
* ``CARI_WHATSAPP_GRAPH_URL`` (https://graph.facebook.com; must pass the outbound policy),
  ``CARI_WHATSAPP_API_VERSION`` (v21.0, pinned).
* ``CARI_WHATSAPP_MESSAGES_PER_SECOND`` (80), ``CARI_WHATSAPP_PAIR_INTERVAL_SECONDS`` (6).
* ``CARI_WHATSAPP_OPT_OUT_KEYWORDS`` / ``..._OPT_IN_KEYWORDS``: comma separated, matched
  ignoring case and accents (defaults in resolvers/messaging/config.py).
* ``CARI_WHATSAPP_DEFAULT_COUNTRY``: ISO alpha-2 for national numbers of patients without a
  country; ``CARI_WHATSAPP_TEMPLATE_SYNC_SECONDS`` (0 = on request only).
* ``CARI_WHATSAPP_TIMEOUT_SECONDS`` (10): one send's wait for an answer.

Unconfigured (no token, phone number id or app secret): the webhook routes answer 404 and
scheduled messages are stored and stay scheduled until the channel is configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

API_VERSION = "v21.0"
_VERSION = re.compile(r"^v\d{1,3}\.0$")


@dataclass(frozen=True)
class WhatsAppSettings:
    access_token: str = ""
    phone_number_id: str = ""
    business_account_id: str = ""
    app_secret: str = ""
    verify_token: str = ""
    graph_url: str = "https://graph.facebook.com"
    api_version: str = API_VERSION
    messages_per_second: float = 80.0
    pair_interval_seconds: float = 6.0
    opt_out_keywords: tuple[str, ...] = ()  # empty: the defaults
    opt_in_keywords: tuple[str, ...] = ()
    default_country: str = ""
    template_sync_seconds: float = 0.0
    timeout_seconds: float = 10.0
    # Retry pacing (no environment variable: tests and benchmarks shorten them).
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    token_retry_seconds: float = 60.0
    poll_seconds: float = 1.0
    lease_seconds: float = 60.0

    @property
    def configured(self) -> bool:
        return bool(self.access_token and self.phone_number_id and self.app_secret)


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            problems: list[str]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        problems.append(f"{name}={raw!r}: expected a number between {low:g} and {high:g}")
        return default
    return value


def _words(raw: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in raw.split(",") if w.strip())


def load_whatsapp_settings(env: Mapping[str, str], problems: list[str]) -> WhatsAppSettings:
    def get(name: str) -> str:
        return env.get(name, "").strip()

    version = get("CARI_WHATSAPP_API_VERSION") or API_VERSION
    if not _VERSION.match(version):
        problems.append(f"CARI_WHATSAPP_API_VERSION={version!r}: expected vNN.0")
        version = API_VERSION
    graph_url = (get("CARI_WHATSAPP_GRAPH_URL") or "https://graph.facebook.com").rstrip("/")
    if not graph_url.startswith(("https://", "http://")):
        problems.append(f"CARI_WHATSAPP_GRAPH_URL={graph_url!r}: expected an http(s) URL")
    country = get("CARI_WHATSAPP_DEFAULT_COUNTRY").upper()
    if country and not (len(country) == 2 and country.isalpha()):
        problems.append(f"CARI_WHATSAPP_DEFAULT_COUNTRY={country!r}: expected ISO alpha-2")
        country = ""
    settings = WhatsAppSettings(
        access_token=get("CARI_WHATSAPP_ACCESS_TOKEN"),
        phone_number_id=get("CARI_WHATSAPP_PHONE_NUMBER_ID"),
        business_account_id=get("CARI_WHATSAPP_BUSINESS_ACCOUNT_ID"),
        app_secret=get("CARI_WHATSAPP_APP_SECRET"),
        verify_token=get("CARI_WHATSAPP_VERIFY_TOKEN"),
        graph_url=graph_url, api_version=version,
        messages_per_second=_number(env, "CARI_WHATSAPP_MESSAGES_PER_SECOND", 80.0, 0.1,
                                    10_000, problems),
        pair_interval_seconds=_number(env, "CARI_WHATSAPP_PAIR_INTERVAL_SECONDS", 6.0, 0,
                                      3600, problems),
        opt_out_keywords=_words(env.get("CARI_WHATSAPP_OPT_OUT_KEYWORDS", "")),
        opt_in_keywords=_words(env.get("CARI_WHATSAPP_OPT_IN_KEYWORDS", "")),
        default_country=country,
        template_sync_seconds=_number(env, "CARI_WHATSAPP_TEMPLATE_SYNC_SECONDS", 0.0, 0,
                                      7 * 86_400, problems),
        timeout_seconds=_number(env, "CARI_WHATSAPP_TIMEOUT_SECONDS", 10.0, 0.1, 120,
                                problems),
    )
    partial = [settings.access_token, settings.phone_number_id, settings.app_secret]
    if any(partial) and not all(partial):
        problems.append("CARI_WHATSAPP_ACCESS_TOKEN, CARI_WHATSAPP_PHONE_NUMBER_ID and "
                        "CARI_WHATSAPP_APP_SECRET must be set together")
    return settings
