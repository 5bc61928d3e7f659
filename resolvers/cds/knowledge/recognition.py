"""Recognising a medication as the caller sent it: by code first, then by name.

Order, first success wins:

1. **Codings, in the order sent.** RxNorm (``http://www.nlm.nih.gov/research/umls/rxnorm``:
   ingredient RxCUIs, the multiple-ingredient concept of co-trimoxazole, and the clinical and
   branded drug codes of dolutegravir, raltegravir and ritonavir), ATC
   (``http://www.whocc.no/atc``: substance codes, and combination codes such as P01BF01
   artemether and lumefantrine) and SNOMED CT (``http://snomed.info/sct``: substance
   concepts, and the lopinavir/ritonavir product concept); the HL7 OIDs of the three
   systems are accepted too, and ATC codes in any case. A coding without a system is
   tried as ATC only when it has ATC's shape (letter, two digits, two letters, two digits):
   a bare number could be RxNorm or SNOMED CT and is not guessed. ``matched_by`` is that coding.
2. **The text, then each coding's display, by name** (``names.normalise_name``): the whole
   key ("lopinavir / ritonavir" -> lopinavir + ritonavir; "coartem" -> artemether +
   lumefantrine); else the key without salt words; else component by component
   ("TDF/3TC/DTG", "Coartem (artemether/lumefantrine)"), each component by its key, its
   key without salt words, or (for names of four letters or more) one of its words
   ("Efavirenz Mylan" -> efavirenz). ``matched_by`` is ``Coding("name", <key that matched>)``.

A combination gives one ``RecognisedMedication`` per ingredient, all with the same
``facts`` and ``matched_by``. Unknown medications give ``()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from resolvers.cds.knowledge.entries import ATC, Medication
from resolvers.cds.knowledge.names import component_keys, normalise_name, without_salt
from resolvers.cds.model import Coding, MedicationFacts, RecognisedMedication

NAME_SYSTEM = "name"
# Systems as senders write them (a trailing slash, http/https) -> the canonical URI.
_SYSTEM_ALIASES = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "https://www.nlm.nih.gov/research/umls/rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://www.whocc.no/atc": ATC,
    "https://www.whocc.no/atc": ATC,
    "http://snomed.info/sct": "http://snomed.info/sct",
    "https://snomed.info/sct": "http://snomed.info/sct",
    # HL7 OIDs, as documents converted from CDA or HL7v2 carry them
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.73": ATC,
    "urn:oid:2.16.840.1.113883.6.96": "http://snomed.info/sct",
}
_ATC_SHAPE = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")
_MIN_WORD_MATCH = 4  # a single word inside a longer name counts only from this length


def canonical_system(system: str) -> str:
    trimmed = system.strip().rstrip("/")
    return _SYSTEM_ALIASES.get(trimmed, trimmed)


class MedicationIndex:
    """Codes and normalised names -> ingredient ids, built once from the knowledge base."""

    def __init__(self, medications: Iterable[Medication]) -> None:
        self._by_code: dict[tuple[str, str], tuple[str, ...]] = {}
        self._by_name: dict[str, tuple[str, ...]] = {}
        for med in medications:
            for code in med.codes:
                self._by_code[code] = med.ingredients
            for name in med.names:
                key = normalise_name(name)
                self._by_name[key] = med.ingredients
        # Names are short and repeat across requests: remember the last few thousand lookups.
        self._lookup_name = lru_cache(maxsize=4096)(self._uncached_lookup_name)

    def recognise(self, facts: MedicationFacts) -> tuple[RecognisedMedication, ...]:
        for coding in facts.codings:
            ingredients = self._lookup_code(coding)
            if ingredients:
                return tuple(RecognisedMedication(facts, i, coding) for i in ingredients)
        texts = [facts.text] + [c.display for c in facts.codings]
        for text in texts:
            if not text:
                continue
            matches = self._lookup_name(text)
            if matches:
                return tuple(RecognisedMedication(facts, ingredient, Coding(NAME_SYSTEM, key))
                             for ingredient, key in matches)
        return ()

    def _lookup_code(self, coding: Coding) -> tuple[str, ...]:
        code = coding.code.strip()
        if coding.system:
            system = canonical_system(coding.system)
            return self._by_code.get((system, code.upper() if system == ATC else code), ())
        if _ATC_SHAPE.match(code.upper()):
            return self._by_code.get((ATC, code.upper()), ())
        return ()

    def _uncached_lookup_name(self, text: str) -> tuple[tuple[str, str], ...]:
        """(ingredient, matched key) pairs for a name, in order, each ingredient once."""
        key = normalise_name(text)
        if not key:
            return ()
        whole = self._key(key)
        if whole is not None:
            return tuple((ingredient, whole[1]) for ingredient in whole[0])
        found: dict[str, str] = {}
        for component in component_keys(key):
            match = self._key(component) or self._word(component)
            if match is not None:
                for ingredient in match[0]:
                    found.setdefault(ingredient, match[1])
        return tuple(found.items())

    def _key(self, key: str) -> tuple[tuple[str, ...], str] | None:
        if key in self._by_name:
            return self._by_name[key], key
        salt_free = without_salt(key)
        if salt_free and salt_free in self._by_name:
            return self._by_name[salt_free], salt_free
        return None

    def _word(self, component: str) -> tuple[tuple[str, ...], str] | None:
        for word in component.split():
            if len(word) >= _MIN_WORD_MATCH and word in self._by_name:
                return self._by_name[word], word
        return None
