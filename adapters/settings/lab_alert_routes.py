"""``CARI_LAB_ALERT_ROUTES``, ``CARI_CLINICIAN_PHONES`` and the clinician template's settings.

``CARI_LAB_ALERT_ROUTES`` is a JSON object: facility (MSH-4, or ``"*"`` for any other) ->
ordered list of channels (resolvers/labs/alerting/model.py). Unset, it is
``{"*": ["webhook:<CARI_LAB_ALERT_WEBHOOK_URL>"]}`` when that URL is set, else
``{"*": ["subscriptions"]}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.settings.pairs import parse_pairs
from resolvers.labs.alerting.model import ANY_FACILITY, ChannelSpec, InvalidChannel

Routes = tuple[tuple[str, tuple[str, ...]], ...]
DEFAULT_LINK_PATH = "/console/alerts#alert-{id}"  # the console's alerts page, at its row


@dataclass(frozen=True)
class LabAlertRouteSettings:
    routes: Routes = ()  # empty: the default described above
    clinician_phones: tuple[tuple[str, str], ...] = ()  # provider id -> phone
    whatsapp_template: str = "critical_lab_alert"
    whatsapp_language: str = "en"
    link_path: str = DEFAULT_LINK_PATH  # appended to CARI_PUBLIC_BASE_URL; {id}: the alert

    def effective_routes(self, webhook_url: str) -> Routes:
        if self.routes:
            return self.routes
        return ((ANY_FACILITY, (f"webhook:{webhook_url}",) if webhook_url
                 else ("subscriptions",)),)


def _routes(raw: str, problems: list[str]) -> Routes:
    if not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except ValueError:
        problems.append("CARI_LAB_ALERT_ROUTES: not valid JSON; expected "
                        '{"<facility>" or "*": ["subscriptions", "whatsapp:ordering-clinician", '
                        '...]}')
        return ()
    if not isinstance(data, Mapping) or not data:
        problems.append("CARI_LAB_ALERT_ROUTES: expected a JSON object of facility -> channels")
        return ()
    routes: list[tuple[str, tuple[str, ...]]] = []
    for facility, channels in data.items():
        name = str(facility).strip()
        if not name or not isinstance(channels, list) or not channels \
                or not all(isinstance(c, str) for c in channels):
            problems.append(f"CARI_LAB_ALERT_ROUTES[{name[:40]!r}]: expected a non-empty list "
                            "of channel names")
            continue
        for channel in channels:
            try:
                ChannelSpec.parse(channel)
            except InvalidChannel as exc:
                problems.append(f"CARI_LAB_ALERT_ROUTES[{name[:40]!r}]: {exc}")
        routes.append((name, tuple(c.strip() for c in channels)))
    return tuple(routes)


def load_lab_alert_routes(env: Mapping[str, str], problems: list[str]) -> LabAlertRouteSettings:
    template = env.get("CARI_LAB_ALERT_WHATSAPP_TEMPLATE", "critical_lab_alert").strip()
    language = env.get("CARI_LAB_ALERT_WHATSAPP_LANGUAGE", "en").strip()
    link_path = env.get("CARI_LAB_ALERT_LINK_PATH", DEFAULT_LINK_PATH).strip()
    if not template or len(template) > 512:
        problems.append("CARI_LAB_ALERT_WHATSAPP_TEMPLATE: 1 to 512 characters")
    if not language or len(language) > 15:
        problems.append("CARI_LAB_ALERT_WHATSAPP_LANGUAGE: a template language code (en, en_US)")
    if not link_path.startswith("/") or "{id}" not in link_path:
        problems.append(f"CARI_LAB_ALERT_LINK_PATH={link_path[:80]!r}: a path starting with / "
                        "with {id} where the alert's id goes")
    return LabAlertRouteSettings(
        routes=_routes(env.get("CARI_LAB_ALERT_ROUTES", ""), problems),
        clinician_phones=tuple(parse_pairs(env.get("CARI_CLINICIAN_PHONES", ""),
                                           "CARI_CLINICIAN_PHONES", "phone", problems)),
        whatsapp_template=template or "critical_lab_alert",
        whatsapp_language=language or "en", link_path=link_path)
