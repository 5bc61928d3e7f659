"""``CARI_MPESA_*``, ``CARI_MTN_MOMO_*`` and ``CARI_ORANGE_MONEY_*``: the payment providers.

Each group is optional. A provider is enabled when its required variables are all set; a
group with some but not all of them is a settings error naming the missing ones. Optional
variables (B2C payouts, MoMo disbursement, timeouts, ...) have defaults.

M-Pesa Daraja (required): BASE_URL, CONSUMER_KEY, CONSUMER_SECRET, SHORTCODE, PASSKEY.
  Optional: TRANSACTION_TYPE (CustomerPayBillOnline), PARTY_B, B2C_INITIATOR_NAME,
  B2C_SECURITY_CREDENTIAL (already encrypted), B2C_SHORTCODE (the three together enable
  payouts), B2C_COMMAND_ID (BusinessPayment), TIMEOUT (15 s).
MTN MoMo (required): BASE_URL, COLLECTION_SUBSCRIPTION_KEY, API_USER, API_KEY,
  TARGET_ENVIRONMENT. Optional: CALLBACK_HOST, DISBURSEMENT_SUBSCRIPTION_KEY (enables
  payouts), DISBURSEMENT_API_USER, DISBURSEMENT_API_KEY, TIMEOUT.
Orange Money Web Payment (required): CLIENT_ID, CLIENT_SECRET, MERCHANT_KEY, RETURN_URL,
  CANCEL_URL. Optional: BASE_URL (https://api.orange.com), COUNTRY (dev), TOKEN_URL,
  WEBPAY_URL (full web payment base, overrides BASE_URL + COUNTRY), LANG (fr),
  MERCHANT_LABEL, TIMEOUT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

# The providers' configuration shapes (their adapters take these).


@dataclass(frozen=True)
class MpesaConfig:
    base_url: str
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    transaction_type: str = "CustomerPayBillOnline"  # or CustomerBuyGoodsOnline (till)
    party_b: str = ""  # receiving shortcode/till; defaults to shortcode
    b2c_initiator_name: str = ""
    b2c_security_credential: str = ""  # already RSA-encrypted + base64, as Daraja wants it
    b2c_shortcode: str = ""
    b2c_command_id: str = "BusinessPayment"
    timeout_seconds: float = 15.0
    token_margin_seconds: float = 300.0  # Daraja tokens live 3599 s: renew after ~55 min

    @property
    def payouts_enabled(self) -> bool:
        return bool(self.b2c_initiator_name and self.b2c_security_credential and self.b2c_shortcode)


# Market -> currency for production target environments (the sandbox takes EUR only).
ENVIRONMENT_CURRENCIES: Mapping[str, str] = {
    "sandbox": "EUR", "mtnuganda": "UGX", "mtnghana": "GHS", "mtnivorycoast": "XOF",
    "mtncameroon": "XAF", "mtnzambia": "ZMW", "mtnbenin": "XOF", "mtncongo": "XAF",
    "mtnswaziland": "SZL", "mtnguineaconakry": "GNF", "mtnsouthafrica": "ZAR",
    "mtnliberia": "LRD", "mtnrwanda": "RWF",
}



@dataclass(frozen=True)
class MomoConfig:
    base_url: str
    collection_subscription_key: str
    api_user: str
    api_key: str
    target_environment: str = "sandbox"
    callback_host: str = ""  # the API user's providerCallbackHost; checked before sending
    disbursement_subscription_key: str = ""  # empty: payouts unsupported
    disbursement_api_user: str = ""  # defaults to api_user
    disbursement_api_key: str = ""  # defaults to api_key
    timeout_seconds: float = 15.0
    token_margin_seconds: float = 120.0

    @property
    def currency(self) -> str:
        return ENVIRONMENT_CURRENCIES.get(self.target_environment, "")


COUNTRY_CURRENCIES: Mapping[str, str] = {
    "dev": "OUV", "ci": "XOF", "sn": "XOF", "ml": "XOF", "bf": "XOF", "cm": "XAF", "gn": "GNF",
}


@dataclass(frozen=True)
class OrangeConfig:
    client_id: str
    client_secret: str
    merchant_key: str
    return_url: str
    cancel_url: str
    api_base: str = "https://api.orange.com"
    country: str = "dev"  # the {cc} of /orange-money-webpay/{cc}/v1
    token_url: str = ""  # default {api_base}/oauth/v3/token
    base_url: str = ""  # default {api_base}/orange-money-webpay/{country}/v1
    lang: str = "fr"
    merchant_label: str = ""  # "reference" shown on the payment page
    timeout_seconds: float = 15.0
    token_margin_seconds: float = 120.0

    @property
    def web_base(self) -> str:
        return (self.base_url or f"{self.api_base.rstrip('/')}/orange-money-webpay/"
                f"{self.country}/v1").rstrip("/")

    @property
    def oauth_url(self) -> str:
        return self.token_url or f"{self.api_base.rstrip('/')}/oauth/v3/token"


@dataclass(frozen=True)
class PaymentProviderSettings:
    mpesa: MpesaConfig | None = None
    mtn_momo: MomoConfig | None = None
    orange_money: OrangeConfig | None = None


def _group(env: Mapping[str, str], prefix: str, required: tuple[str, ...],
           optional: tuple[str, ...], problems: list[str]) -> dict[str, str] | None:
    values = {name: env.get(prefix + name, "").strip() for name in required + optional}
    missing = [prefix + name for name in required if not values[name]]
    if len(missing) == len(required) and not any(values[name] for name in optional):
        return None
    if missing:
        problems.append(f"{prefix}* is incomplete: set {', '.join(missing)} (or none of the "
                        f"{prefix}* variables)")
        return None
    return values


def _url(name: str, value: str, problems: list[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"{name}={value!r}: expected an absolute http(s) URL")
    return value.rstrip("/")


def _timeout(name: str, value: str, problems: list[str]) -> float:
    if not value:
        return 15.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        problems.append(f"{name}={value!r}: expected a positive number of seconds")
        return 15.0
    return seconds


def load_payment_provider_settings(env: Mapping[str, str],
                                   problems: list[str]) -> PaymentProviderSettings:
    mpesa = _group(env, "CARI_MPESA_",
                   ("BASE_URL", "CONSUMER_KEY", "CONSUMER_SECRET", "SHORTCODE", "PASSKEY"),
                   ("TRANSACTION_TYPE", "PARTY_B", "B2C_INITIATOR_NAME", "B2C_SECURITY_CREDENTIAL",
                    "B2C_SHORTCODE", "B2C_COMMAND_ID", "TIMEOUT"), problems)
    momo = _group(env, "CARI_MTN_MOMO_",
                  ("BASE_URL", "COLLECTION_SUBSCRIPTION_KEY", "API_USER", "API_KEY",
                   "TARGET_ENVIRONMENT"),
                  ("CALLBACK_HOST", "DISBURSEMENT_SUBSCRIPTION_KEY", "DISBURSEMENT_API_USER",
                   "DISBURSEMENT_API_KEY", "TIMEOUT"), problems)
    orange = _group(env, "CARI_ORANGE_MONEY_",
                    ("CLIENT_ID", "CLIENT_SECRET", "MERCHANT_KEY", "RETURN_URL", "CANCEL_URL"),
                    ("BASE_URL", "COUNTRY", "TOKEN_URL", "WEBPAY_URL", "LANG", "MERCHANT_LABEL",
                     "TIMEOUT"), problems)
    result = PaymentProviderSettings()
    if mpesa is not None:
        b2c = [mpesa[k] for k in ("B2C_INITIATOR_NAME", "B2C_SECURITY_CREDENTIAL", "B2C_SHORTCODE")]
        if any(b2c) and not all(b2c):
            problems.append("CARI_MPESA_B2C_INITIATOR_NAME, CARI_MPESA_B2C_SECURITY_CREDENTIAL and "
                            "CARI_MPESA_B2C_SHORTCODE must be set together (or none of them)")
        transaction_type = mpesa["TRANSACTION_TYPE"] or "CustomerPayBillOnline"
        if transaction_type not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            problems.append(f"CARI_MPESA_TRANSACTION_TYPE={transaction_type!r}: expected "
                            "CustomerPayBillOnline or CustomerBuyGoodsOnline")
        result = PaymentProviderSettings(mpesa=MpesaConfig(
            base_url=_url("CARI_MPESA_BASE_URL", mpesa["BASE_URL"], problems),
            consumer_key=mpesa["CONSUMER_KEY"], consumer_secret=mpesa["CONSUMER_SECRET"],
            shortcode=mpesa["SHORTCODE"], passkey=mpesa["PASSKEY"],
            transaction_type=transaction_type, party_b=mpesa["PARTY_B"],
            b2c_initiator_name=mpesa["B2C_INITIATOR_NAME"],
            b2c_security_credential=mpesa["B2C_SECURITY_CREDENTIAL"],
            b2c_shortcode=mpesa["B2C_SHORTCODE"],
            b2c_command_id=mpesa["B2C_COMMAND_ID"] or "BusinessPayment",
            timeout_seconds=_timeout("CARI_MPESA_TIMEOUT", mpesa["TIMEOUT"], problems)))
    if momo is not None:
        environment = momo["TARGET_ENVIRONMENT"]
        if environment not in ENVIRONMENT_CURRENCIES:
            problems.append(f"CARI_MTN_MOMO_TARGET_ENVIRONMENT={environment!r}: expected one of "
                            f"{', '.join(sorted(ENVIRONMENT_CURRENCIES))}")
        result = PaymentProviderSettings(result.mpesa, MomoConfig(
            base_url=_url("CARI_MTN_MOMO_BASE_URL", momo["BASE_URL"], problems),
            collection_subscription_key=momo["COLLECTION_SUBSCRIPTION_KEY"],
            api_user=momo["API_USER"], api_key=momo["API_KEY"], target_environment=environment,
            callback_host=momo["CALLBACK_HOST"].lower(),
            disbursement_subscription_key=momo["DISBURSEMENT_SUBSCRIPTION_KEY"],
            disbursement_api_user=momo["DISBURSEMENT_API_USER"],
            disbursement_api_key=momo["DISBURSEMENT_API_KEY"],
            timeout_seconds=_timeout("CARI_MTN_MOMO_TIMEOUT", momo["TIMEOUT"], problems)))
    if orange is not None:
        country = (orange["COUNTRY"] or "dev").lower()
        if country not in COUNTRY_CURRENCIES:
            problems.append(f"CARI_ORANGE_MONEY_COUNTRY={country!r}: expected one of "
                            f"{', '.join(sorted(COUNTRY_CURRENCIES))}")
        if orange["LANG"] and orange["LANG"] not in ("fr", "en"):
            problems.append(f"CARI_ORANGE_MONEY_LANG={orange['LANG']!r}: expected fr or en")
        result = PaymentProviderSettings(result.mpesa, result.mtn_momo, OrangeConfig(
            client_id=orange["CLIENT_ID"], client_secret=orange["CLIENT_SECRET"],
            merchant_key=orange["MERCHANT_KEY"],
            return_url=_url("CARI_ORANGE_MONEY_RETURN_URL", orange["RETURN_URL"], problems),
            cancel_url=_url("CARI_ORANGE_MONEY_CANCEL_URL", orange["CANCEL_URL"], problems),
            api_base=_url("CARI_ORANGE_MONEY_BASE_URL",
                          orange["BASE_URL"] or "https://api.orange.com", problems),
            country=country,
            token_url=(_url("CARI_ORANGE_MONEY_TOKEN_URL", orange["TOKEN_URL"], problems)
                       if orange["TOKEN_URL"] else ""),
            base_url=(_url("CARI_ORANGE_MONEY_WEBPAY_URL", orange["WEBPAY_URL"], problems)
                      if orange["WEBPAY_URL"] else ""),
            lang=orange["LANG"] or "fr", merchant_label=orange["MERCHANT_LABEL"],
            timeout_seconds=_timeout("CARI_ORANGE_MONEY_TIMEOUT", orange["TIMEOUT"], problems)))
    return result
