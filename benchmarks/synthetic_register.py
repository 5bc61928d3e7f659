"""A seeded synthetic patient register with the errors African clinics make (pure python).

``generate(size, seed)`` builds a clinic register of ``size`` patients living in households
(East, West and Southern African names: Swahili, Kikuyu, Luo, Yoruba, Igbo, Hausa, Akan,
Amharic, Zulu, Xhosa, with Christian and Muslim given names), and the lab's records:

* **copies** of 60% of the patients, re-typed with clinic errors: spelling variants and
  transliterations, typos, given and family names swapped, an extra or dropped middle
  name, a clan name as the surname, day and month swapped, year-only and estimated birth
  dates (01-01 or 07-01), missing fields, changed phone numbers and moved addresses;
* **relatives** who are *not* registered: twins of registered patients (same family name,
  birth date, phone and address; only the given name differs), siblings (same household,
  another birth date) and namesakes (same names, another household). The right answer for
  them is "no registered patient".

Households share a phone and an address, and twins and siblings are also registered side
by side, so a lookup must tell apart people who agree on everything but the given name.
Imported by the accuracy benchmark (benchmarks/mpi_accuracy.py) and by tests/mpi.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from benchmarks.register_names import (
    CHRISTIAN_FEMALE,
    CHRISTIAN_MALE,
    MUSLIM_FEMALE,
    MUSLIM_MALE,
    PLACES,
    STREET_WORDS,
    TRADITIONS,
    Tradition,
)

COPY_SHARE = 0.6        # share of registered patients the lab sends a record for
RELATIVE_SHARE = 0.1    # unregistered relatives the lab sends, per registered patient
TODAY = date(2026, 3, 1)


@dataclass(frozen=True)
class Person:
    given: tuple[str, ...]
    family: str
    sex: str                     # "male" | "female" | "" (not recorded)
    birth_date: date | None
    phone: str | None
    address: str | None


@dataclass
class Register:
    patients: dict[str, Person]                  # the clinic's register (indexed)
    queries: dict[str, Person]                   # the lab's records (looked up)
    truth: dict[str, str]                        # query id -> patient id (copies only)
    kinds: dict[str, str] = field(default_factory=dict)  # query id -> copy/twin/sibling/namesake


# ----------------------------------------------------------------- spelling variants

# Ways one name is written by different clerks: (written, also written). Applied either way.
_RESPELLINGS: tuple[tuple[str, str], ...] = (
    ("ou", "u"), ("ch", "sh"), ("tsh", "ch"), ("c", "k"), ("ph", "f"), ("w", "u"),
    ("ll", "l"), ("mm", "m"), ("ee", "i"), ("dh", "d"), ("kh", "k"), ("gh", "g"),
    ("y", "i"), ("j", "dj"), ("ts", "s"), ("ai", "ay"), ("mb", "m'b"), ("ng", "ng'"),
)
_TRANSLITERATIONS: tuple[tuple[str, ...], ...] = (
    ("Mohammed", "Muhammad", "Mohamed", "Mohamud", "Mamadou"),
    ("Abdullahi", "Abdulahi", "Abdullah", "Abdoulaye"), ("Hussein", "Husein", "Hussain"),
    ("Yusuf", "Yusufu", "Youssouf"), ("Suleiman", "Sulaiman", "Souleymane"),
    ("Fatuma", "Fatima", "Fatouma"), ("Aisha", "Aicha", "Aishat"), ("Khadija", "Hadija", "Hadiza"),
    ("Ibrahim", "Ibrahima", "Iburahim"), ("Omar", "Umar", "Oumar"), ("Musa", "Moussa"),
    ("Mariam", "Maryam", "Miriam"), ("Zainab", "Zeinab"), ("Hassan", "Hasani"),
    ("Abubakar", "Aboubacar", "Boubacar"), ("Tesfaye", "Tesfay"), ("Kwame", "Kouame"),
    ("Kofi", "Koffi"), ("Woldemariam", "Wolde Mariam", "Weldemariam"),
    ("Adebayo", "Adébáyọ̀"), ("Olusegun", "Olúségun"), ("Nganga", "Ng'ang'a"),
    ("Agyemang", "Agyeman"), ("Tshabalala", "Chabalala"), ("Ndlovu", "Ndhlovu"),
)
_TRANSLITERATED = {name: group for group in _TRANSLITERATIONS for name in group}


def _name_group(name: str) -> str:
    """One name whatever its spelling: the first of its transliteration group."""
    return _TRANSLITERATED.get(name, (name,))[0].lower()


def _typo(rng: random.Random, name: str) -> str:
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    kind = rng.random()
    if kind < 0.4:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]  # adjacent letters swapped
    if kind < 0.7:
        return name[:i] + name[i + 1:]  # a letter dropped
    return name[:i] + rng.choice("aeioulnrmk") + name[i + 1:]  # a letter mistyped


def respell(rng: random.Random, name: str) -> str:
    """Another way of writing ``name``: a known transliteration, a spelling rule, or a typo."""
    group = _TRANSLITERATED.get(name)
    if group and rng.random() < 0.8:
        return rng.choice([n for n in group if n != name])
    lower = name.lower()
    rules = [(a, b) for a, b in _RESPELLINGS if a in lower] + \
            [(b, a) for a, b in _RESPELLINGS if b in lower]
    if rules and rng.random() < 0.75:
        old, new = rng.choice(rules)
        start = lower.index(old)
        out = lower[:start] + new + lower[start + len(old):]
        return out[:1].upper() + out[1:]
    return _typo(rng, name)


def _with_diacritics(name: str) -> str:
    """Yoruba-style tone marks on the vowels (what a Unicode-aware clinic app may keep)."""
    marks = {"a": "á", "e": "é", "o": "ọ", "i": "í"}
    return unicodedata.normalize("NFC", "".join(marks.get(ch, ch) for ch in name))


# ----------------------------------------------------------------- people and households

def _phone(rng: random.Random) -> str:
    return f"+2547{rng.randrange(10**8):08d}"


def _given_names(rng: random.Random, tradition: Tradition, sex: str) -> tuple[str, ...]:
    own = tradition.female if sex == "female" else tradition.male
    roll = rng.random()
    if roll < 0.25:
        religious = rng.choice((CHRISTIAN_FEMALE, MUSLIM_FEMALE) if sex == "female"
                               else (CHRISTIAN_MALE, MUSLIM_MALE))
        first = rng.choice(religious)
    else:
        first = rng.choice(own)
    if rng.random() < 0.35:  # a second given name: "Grace Achieng"
        second = rng.choice(own)
        if second != first:
            return (first, second)
    return (first,)


def _birth_date(rng: random.Random, earliest: int, latest: int) -> date:
    return date(earliest, 1, 1) + timedelta(days=rng.randrange((latest - earliest) * 365))


def _address(rng: random.Random, tradition: Tradition) -> str:
    return (f"{rng.choice(('Plot', 'House', ''))} {rng.randrange(1, 400)} "
            f"{rng.choice(PLACES)} {rng.choice(STREET_WORDS)}, {rng.choice(tradition.towns)}"
            ).strip()


@dataclass
class _Household:
    tradition: Tradition
    family: str
    phone: str
    address: str
    names: set[str] = field(default_factory=set)  # every given name in the household


def _member(rng: random.Random, home: _Household, born: date, sex: str | None = None,
            own_phone: float = 0.4) -> Person:
    sex = sex or rng.choice(("female", "male"))
    phone = _phone(rng) if rng.random() < own_phone else home.phone
    return Person(_given_names(rng, home.tradition, sex), home.family, sex, born, phone,
                  home.address)


def _other_given(rng: random.Random, person: Person | list[Person], tradition: Tradition,
                 sex: str) -> tuple[str, ...]:
    """A sibling's given names: none of them the same name as any of ``person``'s (or
    people's), in any spelling (parents do not call twins Khadija and Hadiza)."""
    taken = {_name_group(g) for p in (person if isinstance(person, list) else [person])
             for g in p.given}
    for _ in range(50):
        names = _given_names(rng, tradition, sex)
        if not taken & {_name_group(g) for g in names}:
            return names
    raise RuntimeError("name lists too short to give a sibling another name")


def _household(rng: random.Random) -> tuple[_Household, list[Person]]:
    tradition = rng.choice(TRADITIONS)
    home = _Household(tradition, rng.choice(tradition.family), _phone(rng),
                      _address(rng, tradition))
    adult = _member(rng, home, _birth_date(rng, 1950, 2000), own_phone=0.1)
    people = [adult]
    for _ in range(rng.choice((0, 0, 1, 2, 3, 4))):
        born = _birth_date(rng, max(adult.birth_date.year + 18, 1975) if adult.birth_date
                           else 1990, 2025)
        child = _member(rng, home, born)
        child = replace(child, given=_other_given(rng, people, tradition, child.sex))
        people.append(child)
        if rng.random() < 0.06:  # twins: same day, same phone and address, another name
            twin_sex = child.sex if rng.random() < 0.6 else rng.choice(("female", "male"))
            people.append(replace(child, sex=twin_sex,
                                  given=_other_given(rng, people, tradition, twin_sex)))
    home.names.update(g for person in people for g in person.given)
    return home, people


# ----------------------------------------------------------------- clinic errors

def _copy_birth_date(rng: random.Random, born: date | None) -> date | None:
    if born is None:
        return None
    roll = rng.random()
    if roll < 0.06 and born.day <= 12 and born.day != born.month:
        return date(born.year, born.day, born.month)  # day and month swapped
    if roll < 0.14:
        return date(born.year, rng.choice((1, 7)), 1)  # year only, recorded as 01-01 or 07-01
    if roll < 0.18:  # estimated from the age: the year may be off by one
        return date(born.year + rng.choice((-1, 0, 0, 1)), rng.choice((1, 7)), 1)
    if roll < 0.21:
        return None
    if roll < 0.24:  # one digit mistyped in the day
        return born.replace(day=min(28, max(1, born.day + rng.choice((-10, 10, 1, -1)))))
    return born


def clinic_copy(rng: random.Random, person: Person, tradition: Tradition,
                household_names: set[str] | frozenset[str] = frozenset()) -> Person:
    """The lab's record of ``person``: the same human, typed again with clinic errors.

    An added middle name is never a household member's name: it would be that member's."""
    given, family = list(person.given), person.family
    if rng.random() < 0.3:
        n = rng.randrange(len(given))
        given[n] = respell(rng, given[n])
    if rng.random() < 0.3:
        family = respell(rng, family)
    if tradition.name == "yoruba" and rng.random() < 0.2:
        family = _with_diacritics(family)
    roll = rng.random()
    if roll < 0.08 and len(given) > 1:
        given = given[:1] if rng.random() < 0.5 else given[1:]  # a given name dropped
    elif roll < 0.16:  # an extra middle name (a baptismal or traditional one)
        extra = rng.choice(tradition.female if person.sex == "female" else tradition.male)
        given = [*given, extra] if extra not in household_names | set(given) else given
    if rng.random() < 0.04 and tradition.clans:
        family = rng.choice(tradition.clans)  # clan name recorded as the surname
    if rng.random() < 0.06:  # given and family names swapped
        given, family = [family], " ".join(given)
    sex = person.sex if rng.random() > 0.04 else ""
    phone = person.phone
    roll = rng.random()
    if roll < 0.15:
        phone = _phone(rng)  # a new number
    elif roll < 0.3:
        phone = None
    address = person.address
    roll = rng.random()
    if roll < 0.12:
        address = _address(rng, tradition)  # moved
    elif roll < 0.27:
        address = None
    elif roll < 0.35 and address:
        address = address.split(",")[-1].strip()  # the town only
    return Person(tuple(given), family, sex, _copy_birth_date(rng, person.birth_date),
                  phone, address)


# ----------------------------------------------------------------- the register

def generate(size: int, seed: int) -> Register:
    """A register of ``size`` patients and the lab's records (copies and relatives)."""
    rng = random.Random(seed)
    patients: dict[str, Person] = {}
    homes: dict[str, _Household] = {}
    while len(patients) < size:
        home, people = _household(rng)
        for person in people[:size - len(patients)]:
            pid = f"p{len(patients):07d}"
            patients[pid] = person
            homes[pid] = home
    ids = list(patients)
    register = Register(patients, {}, {})
    for pid in rng.sample(ids, int(size * COPY_SHARE)):
        qid = f"q{len(register.queries):07d}"
        register.queries[qid] = clinic_copy(rng, patients[pid], homes[pid].tradition,
                                            homes[pid].names)
        register.truth[qid] = pid
        register.kinds[qid] = "copy"
    for pid in rng.sample(ids, int(size * RELATIVE_SHARE)):
        kind, relative = _relative(rng, patients[pid], homes[pid])
        qid = f"q{len(register.queries):07d}"
        names = homes[pid].names | set(relative.given)
        register.queries[qid] = clinic_copy(rng, relative, homes[pid].tradition, names)
        register.kinds[qid] = kind
    return register


def _relative(rng: random.Random, person: Person, home: _Household) -> tuple[str, Person]:
    """An unregistered twin, sibling or namesake of a registered patient (a twin or sibling
    never bears a name of the household: that would be the registered member)."""
    household = [Person(tuple(home.names), "", "", None, None, None)]
    roll = rng.random()
    if roll < 0.4:
        sex = person.sex if rng.random() < 0.6 else rng.choice(("female", "male"))
        return "twin", replace(person, sex=sex,
                               given=_other_given(rng, household, home.tradition, sex))
    if roll < 0.75 and person.birth_date:
        born = person.birth_date + timedelta(days=rng.choice((-1, 1)) * rng.randrange(400, 4000))
        sibling = _member(rng, home, born)
        return "sibling", replace(sibling, given=_other_given(rng, household, home.tradition,
                                                              sibling.sex))
    elsewhere = _Household(home.tradition, person.family, _phone(rng),
                           _address(rng, home.tradition))
    year = person.birth_date.year if person.birth_date else 1990
    born = _birth_date(rng, year - 15, min(year + 15, TODAY.year))
    namesake = _member(rng, elsewhere, born, sex=person.sex)
    return "namesake", replace(namesake, given=person.given)
