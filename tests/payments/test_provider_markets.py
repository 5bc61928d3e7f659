"""Phone normalisation, markets, amounts; provider settings and the registry."""

from __future__ import annotations

import httpx
import pytest

from adapters.payments.mpesa.client import MpesaProvider
from adapters.payments.mtn_momo.client import MomoProvider
from adapters.payments.orange_money.client import OrangeMoneyProvider
from adapters.payments.registry import build_payment_providers
from adapters.settings import SettingsError, load_settings
from resolvers.errors import InvalidInput
from resolvers.payments.phone import (
    check_amount,
    check_market,
    from_major,
    normalise_phone,
    phone_country,
    to_major,
)


@pytest.mark.parametrize(("raw", "country", "e164"), [
    ("0712345678", "KE", "+254712345678"),
    ("0712 345 678", "KE", "+254712345678"),
    ("254712345678", "KE", "+254712345678"),
    ("+254 712-345-678", "KE", "+254712345678"),
    ("0110123456", "KE", "+254110123456"),
    ("0772123456", "UG", "+256772123456"),
    ("256772123456", "UG", "+256772123456"),
    ("0241234567", "GH", "+233241234567"),
    ("+233 24 123 4567", "GH", "+233241234567"),
    ("0701234567", "CI", "+2250701234567"),
    ("+225 07 01 23 45 67", "CI", "+2250701234567"),
    ("771234567", "SN", "+221771234567"),
    ("+221771234567", "SN", "+221771234567"),
    ("0781234567", "RW", "+250781234567"),
    ("0712345678", "TZ", "+255712345678"),
    ("08031234567", "NG", "+2348031234567"),
    ("+2348031234567", "NG", "+2348031234567"),
    ("46733123450", "SE", "+46733123450"),  # MoMo sandbox MSISDN
])
def test_normalise_phone(raw: str, country: str, e164: str) -> None:
    assert normalise_phone(raw, country) == e164


@pytest.mark.parametrize(("raw", "country", "message"), [
    ("12345", "KE", "not a valid phone number"),
    ("hello", "UG", "not a valid phone number"),
    ("0201234567", "KE", "not a mobile number"),  # Nairobi landline
    ("", "GH", "not a valid phone number"),
])
def test_refused_phones(raw: str, country: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        normalise_phone(raw, country)


@pytest.mark.parametrize(("raw", "e164"), [
    ("+254712345678", "+254712345678"),
    ("+254 712-345-678", "+254712345678"),
    ("254712345678", "+254712345678"),
    ("256772123456", "+256772123456"),
    ("+2250701234567", "+2250701234567"),
])
def test_international_phone_without_country(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164
    assert normalise_phone(raw, "") == e164


@pytest.mark.parametrize(("raw", "field", "message"), [
    ("0712345678", "country", r"give country \(ISO alpha-2, e\.g\. KE\) or the number in "
                              r"international format \+254"),
    ("0712 345 678", "country", "give country"),
    ("771234567", "country", "give country"),
    ("+2541", "phone", "not a valid international phone number"),
    ("hello", "phone", "not a valid phone number"),
])
def test_phone_without_country_is_refused_clearly(raw: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        normalise_phone(raw)
    assert refused.value.details == {"field": field}
    assert "?" not in refused.value.message


def test_markets() -> None:
    assert check_market("mpesa", "KES", "KE").currency == "KES"
    assert check_market("mtn_momo", "UGX", "UG").currency == "UGX"
    assert check_market("mtn_momo", "EUR").sandbox
    assert check_market("orange_money", "XOF", "SN").currency == "XOF"
    assert phone_country("+254712345678") == "KE"
    refusals = [("mpesa", "TZS", "TZ"), ("mpesa", "KES", "UG"), ("mtn_momo", "KES", "KE"),
                ("mtn_momo", "UGX", "GH"), ("orange_money", "XAF", "CI"),
                ("orange_money", "KES", None), ("stripe_like", "USD", None)]
    for provider, currency, country in refusals:
        with pytest.raises(InvalidInput):
            check_market(provider, currency, country)


def test_amounts() -> None:
    check_amount("mpesa", 50000, "KES")
    with pytest.raises(InvalidInput, match="whole shillings"):
        check_amount("mpesa", 50050, "KES")
    for bad in (0, -100, True):
        with pytest.raises(InvalidInput):
            check_amount("mtn_momo", bad, "UGX")
    check_amount("mtn_momo", 1501, "UGX")
    with pytest.raises(InvalidInput, match="currency"):
        check_amount("mtn_momo", 100, "XYZ")
    assert to_major(150050, "KES") == "1500.50" and to_major(150000, "KES") == "1500"
    assert to_major(1500, "XOF") == "1500" and from_major("1500.5", "EUR") == 150050
    assert from_major(1500, "UGX") == 1500
    for bad_amount in ("1.5", "abc", "-3", None):
        with pytest.raises(ValueError, match=r"."):
            from_major(bad_amount, "UGX")


FULL = {
    "CARI_MPESA_BASE_URL": "https://sandbox.safaricom.co.ke", "CARI_MPESA_CONSUMER_KEY": "k",
    "CARI_MPESA_CONSUMER_SECRET": "s", "CARI_MPESA_SHORTCODE": "174379",
    "CARI_MPESA_PASSKEY": "p",
    "CARI_MTN_MOMO_BASE_URL": "https://sandbox.momodeveloper.mtn.com",
    "CARI_MTN_MOMO_COLLECTION_SUBSCRIPTION_KEY": "c", "CARI_MTN_MOMO_API_USER": "u",
    "CARI_MTN_MOMO_API_KEY": "a", "CARI_MTN_MOMO_TARGET_ENVIRONMENT": "sandbox",
    "CARI_ORANGE_MONEY_CLIENT_ID": "i", "CARI_ORANGE_MONEY_CLIENT_SECRET": "s",
    "CARI_ORANGE_MONEY_MERCHANT_KEY": "m",
    "CARI_ORANGE_MONEY_RETURN_URL": "https://app.example.org/done",
    "CARI_ORANGE_MONEY_CANCEL_URL": "https://app.example.org/cancel",
}


async def test_provider_settings_and_registry() -> None:
    assert load_settings({}).payment_providers.mpesa is None
    settings = load_settings(FULL)
    async with httpx.AsyncClient() as client:
        providers = build_payment_providers(settings, client)
        assert load_settings({}) and build_payment_providers(load_settings({}), client) == {}
    assert isinstance(providers["mpesa"], MpesaProvider)
    assert isinstance(providers["mtn_momo"], MomoProvider)
    assert isinstance(providers["orange_money"], OrangeMoneyProvider)
    assert providers["mtn_momo"].currencies == frozenset({"EUR"})
    orange = settings.payment_providers.orange_money
    assert orange is not None and orange.oauth_url == "https://api.orange.com/oauth/v3/token"
    assert orange.web_base == "https://api.orange.com/orange-money-webpay/dev/v1"
    mpesa = settings.payment_providers.mpesa
    assert mpesa is not None and not mpesa.payouts_enabled


def test_partial_groups_name_the_missing_variables() -> None:
    env = {"CARI_MPESA_BASE_URL": "https://sandbox.safaricom.co.ke",
           "CARI_MTN_MOMO_API_KEY": "a", "CARI_ORANGE_MONEY_COUNTRY": "xx",
           "CARI_MPESA_B2C_SHORTCODE": "600000"}
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    text = str(info.value)
    for name in ("CARI_MPESA_CONSUMER_KEY", "CARI_MPESA_PASSKEY", "CARI_MTN_MOMO_API_USER",
                 "CARI_MTN_MOMO_TARGET_ENVIRONMENT", "CARI_ORANGE_MONEY_CLIENT_ID"):
        assert name in text
    with pytest.raises(SettingsError, match="B2C_SECURITY_CREDENTIAL"):
        load_settings({**FULL, "CARI_MPESA_B2C_SHORTCODE": "600000"})
    with pytest.raises(SettingsError, match="TARGET_ENVIRONMENT"):
        load_settings({**FULL, "CARI_MTN_MOMO_TARGET_ENVIRONMENT": "mars"})
    with pytest.raises(SettingsError, match="CARI_MPESA_BASE_URL"):
        load_settings({**FULL, "CARI_MPESA_BASE_URL": "ftp://x"})
