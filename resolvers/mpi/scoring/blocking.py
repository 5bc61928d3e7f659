"""Blocking keys: which stored patients a lookup reads before scoring.

Each patient is indexed under a handful of short keys; a lookup computes the keys of the
candidate (plus tolerant variants: names swapped) and reads only patients that share one,
ranked by how many keys they share, at most ``max_candidates``. With keys this selective a
lookup reads tens of rows at a million patients instead of the whole register.

Key families (stored form; ``K`` a phonetic key from :mod:`.phonetics`):

* ``f:K:YYYY`` family-name part + birth year (``YYYY`` is ``?`` when the date is unknown;
  lookups always read those blocks too)
* ``g:K:YYYY`` given-name part (first two) + birth year
* ``n:Kf:Kg``  family + first given name (catches a wrong or missing birth date)
* ``d:YYYYMMDD:Kf1`` birth date + first letter class of the family name (catches both names
  misspelt beyond their keys)
* ``a:K:YYYY`` / ``a:N:K`` an address word (first two of 4+ letters) + birth year, and the
  first house number + that word
* ``p:NNNNNNNNN`` phone, last 9 digits
* ``i:<hash>``  an identifier (system and value, hashed to a fixed length)
"""

from __future__ import annotations

import hashlib

from resolvers.mpi.scoring.phonetics import phonetic_key
from resolvers.mpi.scoring.record import MatchRecord

MAX_KEY_LENGTH = 64
# Candidates a lookup scores, most shared keys first. On the synthetic register at 100,000
# patients a lookup shares a key with ~160 patients, ~10 of them on two keys or more, and
# the registered person ranks in the first 10 (2,985 of 3,000 lab copies) or 50 (2,993);
# past 50 are patients sharing one key, ordered by id: scoring them cost time, not accuracy.
MAX_CANDIDATES = 50
GIVEN_PARTS = 2
ADDRESS_WORDS = 2
UNKNOWN_YEAR = "?"
# Words that say what kind of place a word is, not which: never a blocking key (EN/FR/PT/SW).
ADDRESS_STOPWORDS = frozenset("""
street road avenue place drive close crescent circuit court lane terrace parade highway
village district estate county province region division location sublocation ward zone
plot house block flat apartment building unit suite city town centre center market box
rue route quartier ville cite secteur commune cercle village rua bairro avenida cidade
mtaa kijiji wilaya mkoa kata barabara njia nyumba sokoni
""".split())


def identifier_key(system: str, value: str) -> str:
    digest = hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:32]
    return f"i:{digest}"


def _keys(parts: tuple[str, ...]) -> list[str]:
    return [k for k in dict.fromkeys(phonetic_key(p) for p in parts) if k]


def _name_keys(given: tuple[str, ...], family: tuple[str, ...], year: str,
               dob: str) -> list[str]:
    fam = _keys(family + (("".join(family),) if len(family) > 1 else ()))
    giv = _keys(given[:GIVEN_PARTS])
    out: list[str] = []
    year = year or UNKNOWN_YEAR
    out += [f"f:{k}:{year}" for k in fam] + [f"g:{k}:{year}" for k in giv]
    if fam and giv:
        out.append(f"n:{fam[0]}:{giv[0]}")
    if dob and fam:
        out += [f"d:{dob}:{k[0]}" for k in fam]
    return out


def _address_keys(tokens: tuple[str, ...], year: str) -> list[str]:
    words = [t for t in tokens if len(t) >= 4 and t.isalpha()
             and t not in ADDRESS_STOPWORDS][:ADDRESS_WORDS]
    number = next((t for t in tokens if t.isdigit()), "")
    out: list[str] = []
    for key in _keys(tuple(words)):
        if year:
            out.append(f"a:{key}:{year}")
        if number:
            out.append(f"a:{number}:{key}")
    return out


def record_keys(record: MatchRecord) -> list[str]:
    """The keys a stored patient is indexed under."""
    out = _name_keys(record.given, record.family, record.birth_year, record.birth_date)
    out += _address_keys(record.address, record.birth_year)
    if record.phone:
        out.append(f"p:{record.phone}")
    out += [identifier_key(s, v) for s, v in record.identifiers]
    return list(dict.fromkeys(k[:MAX_KEY_LENGTH] for k in out))


def query_keys(record: MatchRecord) -> list[str]:
    """The keys a lookup reads: the record's own, plus given and family names swapped."""
    out = record_keys(record)
    if record.birth_year:  # patients whose birth date is unknown
        out += _name_keys(record.given, record.family, "", "")
    if record.given and record.family:
        out += _name_keys(record.family, record.given, record.birth_year, "")
        dob = record.birth_date
        if dob and dob[4:6] != dob[6:8] and int(dob[6:8]) <= 12:
            swapped = dob[:4] + dob[6:8] + dob[4:6]  # day and month transposed
            out += [f"d:{swapped}:{k[0]}" for k in _keys(record.family)]
    return list(dict.fromkeys(k[:MAX_KEY_LENGTH] for k in out))
