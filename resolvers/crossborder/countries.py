"""The documented national HIEs, as default profiles (every field can be overridden per
deployment with ``CARI_HIE_<CC>_*``: adapters/settings/hie.py).

The hosts are the documented ones (product-docs, "Cross-Border Patient Lookup"); the FHIR
path and the national-id systems are defaults an operator confirms with each HIE.
"""

from __future__ import annotations

from resolvers.crossborder.model import AuthKind, CountryProfile, QueryMode


def _profile(code: str, name: str, host: str, system: str, mode: QueryMode = QueryMode.FHIR,
             auth: AuthKind = AuthKind.OAUTH2) -> CountryProfile:
    return CountryProfile(code=code, name=name, base_url=f"https://{host}/fhir/r4",
                          identifier_system=system, mode=mode, auth=auth, timeout_seconds=5.0,
                          token_url=f"https://{host}/oauth2/token")


DEFAULT_PROFILES: dict[str, CountryProfile] = {p.code: p for p in (
    _profile("KE", "Kenya", "hie.health.go.ke",
             "https://hie.health.go.ke/fhir/identifier/national-id"),
    _profile("GH", "Ghana", "openempi.ghana.moh.gov.gh",
             "https://openempi.ghana.moh.gov.gh/identifier/ghana-card", QueryMode.PIXM),
    _profile("NG", "Nigeria", "ndhis.health.gov.ng",
             "https://ndhis.health.gov.ng/identifier/nin"),
    _profile("ZA", "South Africa", "hie.health.gov.za",
             "https://hie.health.gov.za/identifier/rsa-id", QueryMode.PDQM, AuthKind.MTLS),
    _profile("TZ", "Tanzania", "hie.moh.go.tz", "https://hie.moh.go.tz/identifier/nida"),
    _profile("UG", "Uganda", "dhis2.health.go.ug", "https://dhis2.health.go.ug/identifier/nin",
             auth=AuthKind.BEARER),
    _profile("RW", "Rwanda", "rhies.moh.gov.rw", "https://rhies.moh.gov.rw/identifier/nid",
             QueryMode.PDQM),
    _profile("ET", "Ethiopia", "hie.moh.gov.et", "https://hie.moh.gov.et/identifier/fayda"),
)}

SUPPORTED = tuple(DEFAULT_PROFILES)  # KE, GH, NG, ZA, TZ, UG, RW, ET
