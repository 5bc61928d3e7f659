"""Rules that keep relatives apart: twins, siblings and household members.

Relatives agree on nearly everything a register holds: twins share family name, birth date,
phone, address and often sex; only the given name tells them apart. Fellegi-Sunter adds up
agreements as if fields were independent, so a twin scores like a re-typed copy. These
rules sit on top of the model:

* **Given names must fit.** Every given name of the shorter list must be the same name as one
  of the longer list (a dropped or added middle name is fine; given and family swapped are
  compared the swapped way). ``certain`` needs the same name: equal, one canonical spelling
  (Mohammed / Muhammad), or a close spelling with the same phonetic key (a typo). A name
  that is only similar (Wanjiku / Wanjiru) or another name caps the grade at ``probable``;
  another name on the same phone (a household member) caps it at ``possible``.
* **A registered twin keeps the other from certain:** one slipped letter turns one twin's
  given name into the other's.
* **A different sex never yields certain.**
* **One household, one signal.** Phone and address are shared by a household, so their
  agreement is evidence of the household, not of the person: when both agree, only the
  stronger counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from resolvers.mpi.scoring.comparators import (
    NAME_CLOSE,
    NAME_EXACT,
    NAME_SIMILAR,
    name_level,
    name_part_level,
)
from resolvers.mpi.scoring.phonetics import same_sound
from resolvers.mpi.scoring.record import MatchRecord


class GivenFit(IntEnum):
    """How far two given-name lists can be the same person's (higher is closer)."""

    CONFLICT = 0   # another name: at most possible
    SIMILAR = 1    # alike but maybe another name: at most probable
    SAME = 2       # the same name, spelt alike or variously: may be certain
    UNKNOWN = 3    # a side has no given name: the rule says nothing


def _part_fit(a: str, b: str) -> GivenFit:
    level = name_part_level(a, b)
    if level == NAME_EXACT or (level == NAME_CLOSE and same_sound(a, b)):
        return GivenFit.SAME
    if level >= NAME_SIMILAR:
        return GivenFit.SIMILAR
    return GivenFit.CONFLICT


def given_fit(a: Sequence[str], b: Sequence[str]) -> GivenFit:
    """Each name of the shorter list against its best partner in the longer; the worst wins."""
    if not a or not b:
        return GivenFit.UNKNOWN
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    worst = GivenFit.SAME
    for part in short:
        best = max(_part_fit(part, other) for other in long_)
        worst = min(worst, best)
    if worst < GivenFit.SAME and len(a) != len(b):
        # "Wolde Mariam" / "Woldemariam": one name written apart or joined.
        worst = max(worst, _part_fit("".join(a), "".join(b)))
    return worst


def given_fit_of(query: MatchRecord, stored: MatchRecord, names_swapped: bool) -> GivenFit:
    """The fit of the given names, read the way the comparison matched the names."""
    query_given = query.family if names_swapped else query.given
    return given_fit(query_given, stored.given)


def is_twin(a: MatchRecord, b: MatchRecord) -> bool:
    """Two registered patients who look like twins: born the same day, of one family,
    sharing a phone or an address, with other (or merely alike) given names."""
    if not a.birth_date or a.birth_date != b.birth_date or not a.family or not b.family:
        return False
    if name_level(a.family, b.family) < NAME_CLOSE:
        return False
    shared = (a.phone and a.phone == b.phone) or (a.address and a.address == b.address)
    # Alike names count (Ladi / Lami, Wanjiku / Wanjiru): those are the ones a slip confuses.
    return bool(shared) and given_fit(a.given, b.given) in (GivenFit.CONFLICT, GivenFit.SIMILAR)


def sexes_differ(query: MatchRecord, stored: MatchRecord) -> bool:
    return bool(query.sex and stored.sex and query.sex != stored.sex)


def household_weights(weights: dict[str, float], fit: GivenFit,
                      same_birthday: bool = False) -> dict[str, float]:
    """Phone and address agreeing count once (the stronger), since households share both.

    When the given names differ, phone and address say "same household", not "same person":
    they count nothing, unless the birth dates agree too (then the given name may be the
    error; a shared phone still caps the grade at possible in the engine: twins)."""
    phone, address = weights.get("phone", 0.0), weights.get("address", 0.0)
    if fit is GivenFit.CONFLICT and not same_birthday:
        return {**weights, "phone": min(phone, 0.0), "address": min(address, 0.0)}
    if phone > 0 and address > 0:
        weaker = "phone" if phone < address else "address"
        return {**weights, weaker: 0.0}
    return weights
