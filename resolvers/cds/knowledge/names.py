"""Medication names as the knowledge base compares them: one normalisation for the data and
for what callers send, so that "Rifampicin 150 mg tablet", "RIFAMPICIN" and "rifampicin"
meet on one key.

Steps (``normalise_name``), in order:

1. Unicode NFKD, combining marks dropped (accents: "Éfavirenz" -> "efavirenz"), case-folded.
2. A British-approved "co-" at the start of a word joins it ("co-trimoxazole" -> "cotrimoxazole"),
   since there the hyphen is part of the name, not a separator between two drugs.
3. Separators between components are unified: "/", "+", "&", ",", ";", brackets, " and ",
   " with " and a hyphen between words all split the text into components; a component is
   a run of words. ("artemether-lumefantrine", "artemether + lumefantrine" and
   "artemether/lumefantrine" give the same components.)
4. Inside each component, strength and form are removed: numbers with or without a unit
   ("150 mg", "600mg", "20/120", "5 %", "200 mg/5 ml"), and the dose-form, route and
   schedule words of ``FORM_WORDS`` ("tablet", "tabs", "film-coated", "oral", "bd", ...).
   Components left empty are dropped.
5. The components are joined with " / " in their original order (the key of a
   combination name in the data is normalised the same way, so its order matters only as
   it is written; ``component_keys`` gives each component alone for the per-component
   fallback of the recogniser).

``without_salt`` also removes salt and hydrate words ("hydrochloride", "sodium",
"fumarate", ...) that do not change which ingredient is meant; the recogniser tries it only
when the plain key is unknown, so "potassium chloride" stays itself.
"""

from __future__ import annotations

import re
import unicodedata

# Dose forms, routes, release types and schedules that say how, not what.
FORM_WORDS = frozenset("""
    tablet tablets tab tabs tabl caplet caplets capsule capsules cap caps
    dispersible chewable effervescent film filmcoated coated scored uncoated
    oral po iv im sc intravenous intramuscular subcutaneous topical rectal vaginal
    solution soln suspension susp syrup elixir drops drop injection injectable inj
    infusion powder granules sachet sachets vial vials ampoule ampoules amp
    cream ointment gel lotion patch suppository suppositories pessary
    extended release er sr xr xl cr mr dr prolonged modified delayed immediate ir
    fdc fixed dose combination pack kit blister strip bottle
    daily once twice thrice od bd bid tds tid qds qid nocte mane stat prn weekly
    adult adults paediatric pediatric child children junior forte
    mg mcg ug g kg ml l iu units unit mmol meq
""".split())

# Salt, ester and hydrate words: "doxycycline hyclate" is doxycycline.
SALT_WORDS = frozenset("""
    hydrochloride hcl dihydrochloride hyclate monohydrate dihydrate trihydrate anhydrous
    sodium potassium calcium magnesium fumarate hemifumarate maleate mesylate mesilate
    besylate besilate succinate tartrate bitartrate citrate acetate phosphate sulfate
    sulphate nitrate lactate gluconate bromide chloride dipropionate propionate
""".split())

_SEPARATORS = re.compile(r"[/+&,;()\[\]{}]|\s+and\s+|\s+with\s+|\s+-\s+|(?<=[a-z])-(?=[a-z])")
_UNIT = r"(?:%|mg|mcg|µg|ug|g|kg|ml|l|iu|units?|mmol|meq)"
# A number, with its unit if any, standing alone: "150 mg", "600mg", "5%"; never the digit of
# an abbreviation such as "3TC" (a letter or digit may not touch either end).
_STRENGTH = re.compile(rf"(?<![a-z0-9])\d+(?:\.\d+)?\s*{_UNIT}?(?![a-z0-9])")
_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_CO_PREFIX = re.compile(r"(?<![a-z0-9])co-(?=[a-z])")


def _fold(text: str) -> str:
    if text.isascii():  # the usual case: nothing to decompose
        return text.casefold().strip()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _clean_component(component: str) -> str:
    component = _STRENGTH.sub(" ", component)
    words = [w for w in _NON_WORD.sub(" ", component).split() if w not in FORM_WORDS]
    return " ".join(words)


def components(text: str) -> tuple[str, ...]:
    """The cleaned, non-empty components of a medication name, in order."""
    folded = _CO_PREFIX.sub("co", _fold(text))
    # "film-coated" is one form word, not two drugs: join hyphenated form words first.
    folded = folded.replace("film-coated", "filmcoated")
    parts = (_clean_component(part) for part in _SEPARATORS.split(folded))
    return tuple(part for part in parts if part)


def normalise_name(text: str) -> str:
    """The knowledge base's key for a medication name ("" when nothing is left)."""
    return " / ".join(components(text))


def without_salt(key: str) -> str:
    """A key with its salt and hydrate words removed ("" when nothing is left)."""
    parts = (" ".join(w for w in part.split() if w not in SALT_WORDS) for part in key.split(" / "))
    return " / ".join(part for part in parts if part)


def component_keys(key: str) -> tuple[str, ...]:
    """Each component of a normalised key on its own."""
    return tuple(part for part in key.split(" / ") if part)
