"""Text normalisation shared by comparators, phonetic keys and blocking (pure functions)."""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose to ASCII: West African (Akan, Ewe, Yoruba, Hausa)
# and Amharic/Ge'ez-transliteration letters, plus a few European ones.
_SPECIAL = str.maketrans({
    "ɛ": "e", "Ɛ": "e", "ɔ": "o", "Ɔ": "o", "ŋ": "ng", "Ŋ": "ng", "ɓ": "b", "Ɓ": "b",
    "ɗ": "d", "Ɗ": "d", "ƙ": "k", "Ƙ": "k", "ƴ": "y", "Ƴ": "y", "\u02bc": "", "\u02bb": "", "\u2019": "",
    "\u2018": "", "`": "", "\u00b4": "", "ß": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae",
    "œ": "oe", "Œ": "oe", "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "\u0131": "i",
})
_NON_ALPHA = re.compile(r"[^a-z]+")
_TOKEN = re.compile(r"[a-z0-9]+")
_DIGITS = re.compile(r"\D+")


def fold(text: str) -> str:
    """Lower case ASCII: diacritics stripped (Adébáyọ̀ -> adebayo, Ŋɔɔ -> ngoo)."""
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.translate(_SPECIAL).lower()


def name_letters(name: str | None) -> str:
    """A name as bare letters: ``"Ng'ang'a"`` -> ``"nganga"``, ``"Wolde-Mariam"`` -> ``"woldemariam"``."""
    return _NON_ALPHA.sub("", fold(name)) if name else ""


def name_tokens(name: str | None) -> list[str]:
    """Name parts: hyphens and spaces split (``"Wolde-Mariam"`` -> two tokens); apostrophes join."""
    if not name:
        return []
    folded = fold(name).replace("'", "")
    return [t for t in _NON_ALPHA.split(folded) if t]


def text_tokens(text: str | None) -> list[str]:
    """Address tokens: lower-case ASCII words and numbers."""
    return _TOKEN.findall(fold(text)) if text else []


def phone_suffix(phone: str | None, digits: int = 9) -> str:
    """The last ``digits`` digits (subscriber number without country/trunk prefix), or ''."""
    if not phone:
        return ""
    only = _DIGITS.sub("", phone)
    return only[-digits:] if len(only) >= 7 else ""
