"""Field comparators: each maps a pair of values to a discrete agreement level.

Levels are small integers, higher meaning closer agreement; :data:`MISSING` (-1) means one
side has no value, and such a field adds no evidence either way. The Fellegi-Sunter model
(:mod:`resolvers.mpi.scoring.fellegi_sunter`) learns an m and a u probability per level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish

from resolvers.mpi.scoring.phonetics import canonical, phonetic_key
from resolvers.mpi.scoring.record import MatchRecord

MISSING = -1

# Name levels
NAME_EXACT, NAME_CLOSE, NAME_SIMILAR, NAME_DIFFERENT = 3, 2, 1, 0
NAME_CLOSE_JW = 0.92
NAME_SIMILAR_JW = 0.84

#: field -> number of levels (0 .. n-1); the order of FIELDS is the order of a vector.
FIELD_LEVELS: dict[str, int] = {
    "given": 4, "family": 4, "birth_date": 4, "sex": 2, "phone": 3, "address": 4,
    "identifier": 3,
}
FIELDS: tuple[str, ...] = tuple(FIELD_LEVELS)


@lru_cache(maxsize=1 << 17)
def name_part_level(a: str, b: str) -> int:
    """Agreement of two folded name parts. Cached: a lookup compares its names against
    ~150 candidates, and the same few thousand names go round a register."""
    if a == b:
        return NAME_EXACT
    ca, cb = canonical(a), canonical(b)
    if ca and ca == cb:
        return NAME_EXACT  # same name in two orthographies (Kouamé / Kwame)
    jw = max(jellyfish.jaro_winkler_similarity(a, b), jellyfish.jaro_winkler_similarity(ca, cb))
    if jw >= NAME_CLOSE_JW:
        return NAME_CLOSE
    if jw >= NAME_SIMILAR_JW or (phonetic_key(a) and phonetic_key(a) == phonetic_key(b)):
        return NAME_SIMILAR
    return NAME_DIFFERENT


def name_level(a: Sequence[str], b: Sequence[str]) -> int:
    """Best agreement between two names given as parts (any part against any part).

    Compound names written joined or apart ("Woldemariam" / "Wolde Mariam") also compare
    as one string.
    """
    if not a or not b:
        return MISSING
    return _name_level(tuple(a), tuple(b))


@lru_cache(maxsize=1 << 17)
def _name_level(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    best = NAME_DIFFERENT
    for x in a:
        for y in b:
            best = max(best, name_part_level(x, y))
            if best == NAME_EXACT:
                return best
    if len(a) > 1 or len(b) > 1:
        best = max(best, name_part_level("".join(a), "".join(b)))
    return best


def _one_edit(a: str, b: str) -> bool:
    """One substituted digit, or two adjacent digits transposed (same length strings)."""
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] \
        and a[diff[1]] == b[diff[0]]


DOB_EXACT, DOB_NEAR, DOB_YEAR, DOB_DIFFERENT = 3, 2, 1, 0
#: Month and day clinics write when only the year (or an age) is known.
ESTIMATED_MONTH_DAYS = frozenset({"0101", "0701"})


def is_estimated(dob: str) -> bool:
    return dob[4:] in ESTIMATED_MONTH_DAYS


def birth_date_level(a: str, b: str) -> int:
    """Exact; day and month transposed or one digit typo/transposition; same year; else.

    A date on 01-01 or 07-01 is often an estimate from an age: against another date in the
    same year, give or take one, it says nothing either way (missing); further off it differs.
    """
    if not a or not b:
        return MISSING
    if a == b:
        return DOB_EXACT
    if (is_estimated(a) or is_estimated(b)) and abs(int(a[:4]) - int(b[:4])) <= 1:
        return MISSING
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return DOB_NEAR
    if _one_edit(a, b):
        return DOB_NEAR
    if a[:4] == b[:4]:
        return DOB_YEAR
    return DOB_DIFFERENT


def sex_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    return 1 if a == b else 0


PHONE_SAME = 2


def phone_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return PHONE_SAME
    n = min(len(a), len(b))
    return 1 if _one_edit(a[-n:], b[-n:]) else 0


def _token_equal(x: str, y: str) -> bool:
    if x == y:
        return True
    if x.isdigit() or y.isdigit() or len(x) < 4 or len(y) < 4:
        return False
    return jellyfish.jaro_winkler_similarity(x, y) >= 0.9


#: Words that say what kind of place a word is, not which (EN/FR/PT/SW): they are left out of
#: the address comparison, or "Plot 93 Githurai Street" would half-match "Plot 239 Mathare
#: Street".
ADDRESS_KIND_WORDS = frozenset("""
street road avenue place drive close crescent circuit court lane terrace parade highway
village district estate county province region division location sublocation ward zone
plot house block flat apartment building unit suite city town centre center market box
rue route quartier ville cite secteur commune cercle rua bairro avenida cidade
mtaa kijiji wilaya mkoa kata barabara njia nyumba sokoni
""".split())


def _place_words(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if t not in ADDRESS_KIND_WORDS]


def address_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Dice coefficient over tokens, a token matching its first near-equal partner once."""
    a, b = _place_words(a), _place_words(b)
    if not a or not b:
        return 0.0
    left = list(dict.fromkeys(b))
    hits = 0
    for x in dict.fromkeys(a):
        for n, y in enumerate(left):
            if _token_equal(x, y):
                hits += 1
                del left[n]
                break
    return 2.0 * hits / (len(set(a)) + len(set(b)))


def address_level(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return MISSING
    sim = address_similarity(a, b)
    if sim >= 0.85:
        return 3
    if sim >= 0.6:
        return 2
    if sim >= 0.3:
        return 1
    return 0


def identifier_level(a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]]) -> int:
    """Over the identifier systems both records have: equal 2, one typo 1, different 0."""
    theirs: dict[str, set[str]] = {}
    for system, value in b:
        theirs.setdefault(system, set()).add(value)
    best = MISSING
    for system, value in a:
        values = theirs.get(system)
        if not values:
            continue
        if value in values:
            return 2
        level = 1 if any(len(value) >= 4 and _one_edit(value, v) for v in values) else 0
        best = max(best, level)
    return best


@dataclass(frozen=True)
class Comparison:
    """One pair's agreement vector, and whether the names matched the other way round."""

    levels: tuple[int, ...]  # in FIELDS order
    names_swapped: bool = False

    def as_dict(self) -> dict[str, int]:
        return dict(zip(FIELDS, self.levels, strict=True))


def compare(a: MatchRecord, b: MatchRecord) -> Comparison:
    given, family = name_level(a.given, b.given), name_level(a.family, b.family)
    swapped = False
    # Swapped names can only win by more than one level (g2 + f2 <= 6): skip the second
    # comparison when the names already agree that well the straight way.
    if a.given and a.family and b.given and b.family and given + family < 5:
        g2, f2 = name_level(a.given, b.family), name_level(a.family, b.given)
        if g2 + f2 > max(given, 0) + max(family, 0) + 1:
            given, family, swapped = g2, f2, True
    return Comparison((
        given, family, birth_date_level(a.birth_date, b.birth_date), sex_level(a.sex, b.sex),
        phone_level(a.phone, b.phone), address_level(a.address, b.address),
        identifier_level(a.identifiers, b.identifiers),
    ), swapped)
