"""Routing rules, settings and the in-process feed, without a gateway."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from adapters.lab_alerts.clinician_phones import practitioner_phone
from adapters.settings.lab_alert_routes import load_lab_alert_routes
from resolvers.labs.alerting.feed import InMemoryAlertFeed
from resolvers.labs.alerting.model import (
    AlertRoutes,
    ChannelSpec,
    InvalidChannel,
    RaisedAlert,
    channel_order,
    provider_id,
)


def test_channel_texts_parse_liberally_and_refuse_what_names_no_channel() -> None:
    assert ChannelSpec.parse(" Subscriptions ") == ChannelSpec("subscriptions")
    assert ChannelSpec.parse("WhatsApp:Ordering-Clinician") == ChannelSpec(
        "whatsapp", "ordering-clinician")
    assert ChannelSpec.parse("whatsapp:+254 712 345678").target == "+254 712 345678"
    assert ChannelSpec.parse("webhook:https://pager.example/hook").target == \
        "https://pager.example/hook"
    for bad in ("sms:+2547", "whatsapp:the-ward", "webhook:ftp://x", "subscriptions:x", ""):
        with pytest.raises(InvalidChannel):
            ChannelSpec.parse(bad)


def test_a_facility_uses_its_route_else_the_default() -> None:
    routes = AlertRoutes.of([("KNH_LAB", ["subscriptions", "whatsapp:ordering-clinician"]),
                             ("*", ["webhook:https://pager.example/hook"])])
    assert [c.kind for c in routes.channels_for("KNH_LAB")] == ["subscriptions", "whatsapp"]
    assert [c.kind for c in routes.channels_for("OTHER")] == ["webhook"]
    assert AlertRoutes.of([("KNH_LAB", ["subscriptions"])]).channels_for("OTHER") == ()
    assert len(routes.all_channels()) == 3


def test_escalation_n_starts_at_channel_n_and_stays_on_the_last() -> None:
    assert list(channel_order(3, 0)) == [0, 1, 2]
    assert list(channel_order(3, 1)) == [1, 2]
    assert list(channel_order(3, 5)) == [2]
    assert list(channel_order(0, 0)) == []


def test_the_provider_id_is_the_first_component() -> None:
    assert provider_id("DR7^Kamau^Peter") == "DR7"
    assert provider_id("") == ""


def test_settings_name_every_problem_and_default_to_the_legacy_route() -> None:
    problems: list[str] = []
    load_lab_alert_routes({
        "CARI_LAB_ALERT_ROUTES": '{"KNH_LAB": ["subscriptions", "sms:1"], "*": "whatsapp"}',
        "CARI_LAB_ALERT_LINK_PATH": "/alerts"}, problems)
    assert any("sms:1" in p for p in problems)
    assert any("'*'" in p and "non-empty list" in p for p in problems)
    assert any("CARI_LAB_ALERT_LINK_PATH" in p for p in problems)
    problems = []
    assert load_lab_alert_routes({"CARI_LAB_ALERT_ROUTES": "{nope"}, problems).routes == ()
    assert problems and "not valid JSON" in problems[0]
    problems = []
    routing = load_lab_alert_routes({"CARI_CLINICIAN_PHONES": "DR7=+254711000111"}, problems)
    assert problems == [] and routing.clinician_phones == (("DR7", "+254711000111"),)
    assert routing.effective_routes("https://x.example/a") == (
        ("*", ("webhook:https://x.example/a",)),)
    assert routing.effective_routes("") == (("*", ("subscriptions",)),)


def test_a_practitioners_mobile_phone_is_preferred_and_ended_ones_skipped() -> None:
    assert practitioner_phone({"telecom": [
        {"system": "phone", "value": "020 111", "use": "work"},
        {"system": "phone", "value": "0711 1", "use": "mobile"}]}) == "0711 1"
    assert practitioner_phone({"telecom": [
        {"system": "phone", "value": "0711 1", "period": {"end": "2020-01-01"}}]}) is None
    assert practitioner_phone({"active": False, "telecom": [
        {"system": "phone", "value": "0711 1"}]}) is None
    assert practitioner_phone({"telecom": [{"system": "email", "value": "a@b"}]}) is None


def _alert(n: int) -> RaisedAlert:
    return RaisedAlert(alert_id=f"a{n}", facility="F", lab_result_id="r", patient_id=None,
                       code="2823-3", direction="high", created_at=datetime.now(UTC),
                       escalation_level=0)


async def test_the_feed_gives_each_listener_every_alert_and_drops_the_oldest_when_behind(
) -> None:
    feed = InMemoryAlertFeed(queue_limit=2)
    async with feed.listen() as first, feed.listen() as second:
        for n in range(3):
            await feed.publish(_alert(n))
        got = [await asyncio.wait_for(anext(first), 1) for _ in range(2)]
        assert [a.alert_id for a in got] == ["a1", "a2"]
        assert (await asyncio.wait_for(anext(second), 1)).alert_id == "a1"
    assert feed.listeners == 0
    again = _alert(6)
    assert RaisedAlert.from_json(again.to_json()) == again
