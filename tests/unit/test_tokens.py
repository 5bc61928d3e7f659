import base64
import json
from datetime import UTC, datetime, timedelta

import pyseto
import pytest

from adapters.auth.keys import generate_key_pair, load_or_create_local_key
from adapters.auth.tokens import TokenIssuer, TokenVerifier
from resolvers.errors import Unauthenticated

AUD = "cari-gateway"


@pytest.fixture(scope="module")
def pair():
    return generate_key_pair()


@pytest.fixture(scope="module")
def verifier(pair):
    return TokenVerifier([("iss-a", pair.public_paserk)], AUD)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_token_gives_principal_with_known_roles_only(pair, verifier) -> None:
    token = TokenIssuer(pair, "iss-a", AUD).issue("u1", ["clinician", "wizard"], ["a", "b"])
    p = verifier.verify(token)
    assert p.subject == "u1" and p.roles == frozenset({"clinician"})
    assert p.scopes == frozenset({"a", "b"}) and p.issuer == "iss-a"


def test_rotation_two_keys_of_one_issuer_are_both_accepted(pair) -> None:
    second = generate_key_pair()
    v = TokenVerifier([("iss-a", pair.public_paserk), ("iss-a", second.public_paserk)], AUD)
    for kp in (pair, second):
        assert v.verify(TokenIssuer(kp, "iss-a", AUD).issue("u", ["lab"])).roles == {"lab"}


def test_key_is_chosen_by_kid_and_unknown_kid_is_refused(pair, verifier) -> None:
    other = generate_key_pair()
    with pytest.raises(Unauthenticated, match="does not trust"):
        verifier.verify(TokenIssuer(other, "iss-a", AUD).issue("u", ["admin"]))


def test_expired_token_refused_but_clock_skew_of_60s_tolerated(pair, verifier) -> None:
    issuer = TokenIssuer(pair, "iss-a", AUD)
    past = datetime.now(UTC) - timedelta(seconds=130)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(issuer.issue("u", ["admin"], ttl_seconds=60, now=past))
    slightly = datetime.now(UTC) - timedelta(seconds=90)
    assert verifier.verify(issuer.issue("u", ["admin"], ttl_seconds=60, now=slightly)).subject == "u"
    future = datetime.now(UTC) + timedelta(seconds=600)
    with pytest.raises(Unauthenticated):
        verifier.verify(issuer.issue("u", ["admin"], now=future))


def _sign(pair, claims: dict, footer: dict | None = None) -> str:
    key = pyseto.Key.from_paserk(pair.secret_paserk)
    return pyseto.encode(key, claims, footer=footer if footer is not None else {"kid": pair.kid},
                         serializer=json).decode()


def _claims(**over):
    now = datetime.now(UTC)
    base = {"iss": "iss-a", "sub": "u", "aud": AUD, "exp": (now + timedelta(hours=1)).isoformat(),
            "iat": now.isoformat(), "roles": ["admin"]}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("claims, reason", [
    (_claims(exp=None), "no exp"),
    (_claims(iss="someone-else"), "iss"),
    (_claims(aud="other-service"), "aud"),
    (_claims(sub=None), "sub"),
    (_claims(roles={"admin": True}), "roles"),
])
def test_claims_are_checked(pair, verifier, claims, reason) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verifier.verify(_sign(pair, claims))


def test_footer_without_kid_is_refused(pair, verifier) -> None:
    with pytest.raises(Unauthenticated, match="kid"):
        verifier.verify(_sign(pair, _claims(), footer={"x": 1}))


def test_local_purpose_other_versions_and_garbage_are_refused(pair, verifier) -> None:
    local = pyseto.Key.new(4, "local", b"0" * 32)
    v4_local = pyseto.encode(local, _claims(), serializer=json).decode()
    for token, fragment in ((v4_local, "v4.local"), ("v2.public.abc.def", "v2.public"),
                            ("hello", "not a PASETO"), ("v4.public." + "A" * 20000, "too long")):
        with pytest.raises(Unauthenticated, match=fragment):
            verifier.verify(token)


def test_tampered_payload_fails_signature(pair, verifier) -> None:
    token = TokenIssuer(pair, "iss-a", AUD).issue("u", ["clinician"])
    head, body, footer = token.rsplit(".", 2)[0], token.split(".")[2], token.split(".")[3]
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[10] ^= 0x01
    forged = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}.{footer}"
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)


def test_local_key_is_created_once_with_owner_only_permissions(tmp_path) -> None:
    first = load_or_create_local_key(tmp_path / "var")
    again = load_or_create_local_key(tmp_path / "var")
    assert first == again
    path = tmp_path / "var" / "signing-key.paserk"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("k4.secret.")


@pytest.mark.parametrize(("claim", "value"), [
    ("exp", "9999-12-31T23:59:59+00:00"), ("exp", "9999-12-31T23:59:59Z"),
    ("nbf", "0001-01-01T00:00:00+00:00"), ("nbf", "0001-01-01T00:00:00Z"),
    ("exp", 99999999999999999999), ("nbf", [1])])
def test_time_claims_out_of_range_or_of_another_type_are_refused_not_raised(
        pair, verifier, claim, value) -> None:
    # Signed with the trusted key: only the claim is wrong. pyseto adds its leeway to exp and
    # subtracts it from nbf, which overflowed datetime (a 500 instead of a 401).
    now = datetime.now(UTC).replace(microsecond=0)
    claims = {"iss": "iss-a", "sub": "u", "aud": AUD, "iat": now.isoformat(),
              "nbf": now.isoformat(), "exp": (now + timedelta(hours=1)).isoformat(),
              "roles": ["admin"], claim: value}
    key = pyseto.Key.from_paserk(pair.secret_paserk)
    token = bytes(pyseto.encode(key, claims, footer={"kid": pair.kid}, serializer=json)).decode()
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
