"""CARI_* webhook variables: parsed, validated, each problem naming its variable."""

from __future__ import annotations

import pytest

from adapters.settings import SettingsError, load_settings


def test_secrets_are_parsed() -> None:
    settings = load_settings({
        "CARI_STRIPE_WEBHOOK_SECRETS": "whsec_new_0000000, whsec_old_0000000",
        "CARI_LIVEKIT_API_KEY": "APIkey", "CARI_LIVEKIT_API_SECRET": "secret",
        "CARI_RESEND_WEBHOOK_SECRET": "whsec_c2VjcmV0LXNlY3JldA==",
        "CARI_LEAD_SOURCES": "website=0123456789abcdef,partner-x=fedcba9876543210",
    })
    assert settings.stripe_webhook_secrets == ("whsec_new_0000000", "whsec_old_0000000")
    assert dict(settings.lead_sources) == {"website": "0123456789abcdef",
                                           "partner-x": "fedcba9876543210"}
    as_json = load_settings({"CARI_LEAD_SOURCES": '{"website": "0123456789abcdef"}'})
    assert as_json.lead_sources == (("website", "0123456789abcdef"),)
    assert load_settings({}).stripe_webhook_secrets == ()


@pytest.mark.parametrize(("env", "variable"), [
    ({"CARI_STRIPE_WEBHOOK_SECRETS": "sk_live_123"}, "CARI_STRIPE_WEBHOOK_SECRETS"),
    ({"CARI_LIVEKIT_API_KEY": "only-the-key"}, "CARI_LIVEKIT_API_KEY"),
    ({"CARI_RESEND_WEBHOOK_SECRET": "plain"}, "CARI_RESEND_WEBHOOK_SECRET"),
    ({"CARI_LEAD_SOURCES": "website=short"}, "CARI_LEAD_SOURCES"),
    ({"CARI_LEAD_SOURCES": "{not json"}, "CARI_LEAD_SOURCES"),
    ({"CARI_LEAD_SOURCES": "bad name!=0123456789abcdef"}, "CARI_LEAD_SOURCES"),
    ({"CARI_WEBHOOK_MAX_BODY_BYTES": "10"}, "CARI_WEBHOOK_MAX_BODY_BYTES"),
])
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert any(p.startswith(variable) for p in caught.value.problems), caught.value.problems
