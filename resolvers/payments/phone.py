"""Phone numbers, currencies and markets of the mobile-money providers.

``normalise_phone`` turns any local or international form ("0712 345 678", "254712345678",
"+254 712 345678") into E.164 ("+254712345678") and refuses numbers that are invalid or not
mobile numbers; an international form needs no country, a local one does.
``PROVIDER_MARKETS`` says which currency each provider takes in which country;
``check_market`` and ``check_amount`` refuse a payment that cannot fit the provider before any
request is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers

from resolvers.errors import InvalidInput

# ISO 4217 minor-unit exponents of the currencies the gateway deals with. "OUV" is Orange's
# dev-sandbox pseudo-currency (not ISO 4217); it has no minor unit like XOF.
CURRENCY_EXPONENTS: Mapping[str, int] = {
    "KES": 2, "TZS": 2, "UGX": 0, "RWF": 0, "GHS": 2, "NGN": 2, "ZMW": 2, "ZAR": 2,
    "SZL": 2, "LRD": 2, "XOF": 0, "XAF": 0, "GNF": 0, "CDF": 2, "EUR": 2, "USD": 2,
    "GBP": 2, "OUV": 0,
}

_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE,
                           phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


@dataclass(frozen=True)
class Market:
    """A currency a provider accepts, and the countries (ISO 3166 alpha-2) where it does.

    ``countries`` is empty for sandbox currencies, which carry no country rule."""

    currency: str
    countries: frozenset[str]
    sandbox: bool = False


def _markets(*markets: Market) -> Mapping[str, Market]:
    return {m.currency: m for m in markets}


# Which provider serves which currency in which country.
# - mpesa: Safaricom Daraja serves Kenya only. (Vodacom Tanzania's M-Pesa, in TZS, is a
#   different API and is not implemented.)
# - mtn_momo: MTN MoMo Open API markets; the sandbox ("sandbox" target environment) accepts
#   only EUR. XAF covers Cameroon and Congo-Brazzaville, XOF Côte d'Ivoire and Benin.
# - orange_money: Orange Money Web Payment countries; "OUV" is the dev sandbox currency.
PROVIDER_MARKETS: Mapping[str, Mapping[str, Market]] = {
    "mpesa": _markets(Market("KES", frozenset({"KE"}))),
    "mtn_momo": _markets(
        Market("UGX", frozenset({"UG"})),
        Market("GHS", frozenset({"GH"})),
        Market("XAF", frozenset({"CM", "CG"})),
        Market("XOF", frozenset({"CI", "BJ"})),
        Market("ZMW", frozenset({"ZM"})),
        Market("RWF", frozenset({"RW"})),
        Market("SZL", frozenset({"SZ"})),
        Market("GNF", frozenset({"GN"})),
        Market("ZAR", frozenset({"ZA"})),
        Market("LRD", frozenset({"LR"})),
        Market("EUR", frozenset(), sandbox=True),
    ),
    "orange_money": _markets(
        Market("XOF", frozenset({"CI", "SN", "ML", "BF"})),
        Market("XAF", frozenset({"CM"})),
        Market("GNF", frozenset({"GN"})),
        Market("OUV", frozenset(), sandbox=True),
    ),
}


def currency_exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent; InvalidInput for a currency we do not know."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InvalidInput(f"unsupported currency {currency!r}",
                           details={"field": "currency"}) from None


# What a caller must change when a national number comes without its country.
NEEDS_COUNTRY = ("a national phone number needs its country: give country (ISO alpha-2, "
                 "e.g. KE) or the number in international format +254…")


def normalise_phone(raw: str, country: str | None = None) -> str:
    """``raw`` (a local form in ``country``, or an international form) as E.164.

    Without ``country`` only an international form ("+254712345678" or "254712345678") can
    be read: the region comes from its country code. A national form ("0712345678") without
    ``country`` is refused with a message naming the ``country`` field. Raises InvalidInput
    when it is not a valid mobile number."""
    text = raw.strip()
    region = (country or "").strip().upper() or None
    number = _parse(text, region)
    if number is None:
        if region is not None:
            raise InvalidInput(f"not a valid phone number for country {region}",
                               details={"field": "phone"})
        if _looks_national(text):
            raise InvalidInput(NEEDS_COUNTRY, details={"field": "country"})
        if text.startswith("+"):
            raise InvalidInput("not a valid international phone number",
                               details={"field": "phone"})
        raise InvalidInput("not a valid phone number: give it in international format "
                           "+254…, or give country (ISO alpha-2)", details={"field": "phone"})
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidInput("the phone number is not a mobile number", details={"field": "phone"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The first valid reading of ``text``, or None."""
    candidates = [text]
    digits = _digits(text)
    if not text.startswith("+") and not text.startswith("0") and len(digits) > 9:
        candidates.append("+" + digits)  # "254712345678": international without the plus
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _looks_national(text: str) -> bool:
    """A dialable number without a country code ("0712 345 678", "771234567"): only the
    caller's country can tell which one it is."""
    stripped = text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    return not stripped.startswith("+") and stripped.isdigit() and 6 <= len(stripped) <= 12


def phone_country(e164: str) -> str | None:
    """The ISO 3166 region of an E.164 number, or None."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def check_market(provider: str, currency: str, country: str | None = None) -> Market:
    """The market, or InvalidInput when ``provider`` does not take ``currency`` (in ``country``)."""
    markets = PROVIDER_MARKETS.get(provider)
    if markets is None:
        raise InvalidInput(f"unknown payment provider {provider!r}", details={"field": "provider"})
    market = markets.get(currency)
    if market is None:
        raise InvalidInput(f"{provider} does not accept {currency}; it accepts "
                           f"{', '.join(sorted(markets))}", details={"field": "currency"})
    if country is not None and market.countries and country.upper() not in market.countries:
        raise InvalidInput(f"{provider} does not accept {currency} in {country.upper()}",
                           details={"field": "currency"})
    return market


def check_amount(provider: str, amount_minor: int, currency: str) -> None:
    """Refuse amounts the provider cannot carry: not positive, or (M-Pesa) not whole units."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidInput("amount must be a positive integer in minor units",
                           details={"field": "amount"})
    exponent = currency_exponent(currency)
    if provider == "mpesa" and amount_minor % (10 ** exponent):
        raise InvalidInput("M-Pesa takes whole shillings only: amount (in cents) must be a "
                           "multiple of 100", details={"field": "amount"})


def to_major(amount_minor: int, currency: str) -> str:
    """``amount_minor`` as a decimal string in major units: 150050 KES -> "1500.50",
    1500 UGX -> "1500"; whole amounts carry no decimals (150000 KES -> "1500")."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return str(amount_minor)
    whole, fraction = divmod(amount_minor, 10 ** exponent)
    return str(whole) if fraction == 0 else f"{whole}.{fraction:0{exponent}d}"


def from_major(value: object, currency: str) -> int:
    """A provider's major-unit amount ("1500", 1500, "15.50") in minor units; ValueError if not one."""
    exponent = currency_exponent(currency)
    text = str(value).strip()
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) \
            or len(fraction) > exponent:
        raise ValueError("not an amount")
    minor: int = int(whole) * 10**exponent
    return minor + (int(fraction.ljust(exponent, "0")) if exponent else 0)
