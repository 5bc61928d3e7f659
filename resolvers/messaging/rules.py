"""The rules messaging applies before anything reaches the Graph API: phone numbers in
E.164, template parameters against the template's placeholders, opt-out and opt-in keywords.

Pure functions; the Graph API's own refusals (132000, 131047) are then never the first line
of defence."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import phonenumbers

from resolvers.errors import InvalidInput
from resolvers.messaging.model import Template, TemplateCall, TemplateStatus, placeholders

MAX_PARAM_LENGTH = 1024  # Meta's limit for a body text parameter (the body has 1024 too)
WINDOW_SECONDS = 24 * 3600


def template_problem(template: Template | None, call: TemplateCall) -> str | None:
    """Why ``call`` cannot be sent with ``template`` (None: it can)."""
    if template is None:
        return (f"template {call.name!r} is not registered in language {call.language!r}")
    if template.status is not TemplateStatus.APPROVED:
        return (f"template {call.name!r} ({call.language}) is {template.status.value}, "
                "not APPROVED")
    for part, given, text in (("body", call.body_params, template.body),
                              ("header", call.header_params, template.header)):
        expected = placeholders(text)
        if len(given) != expected:
            return (f"template {call.name!r} ({call.language}) has {expected} {part} "
                    f"parameter(s); {len(given)} given")
        for value in given:
            if not value.strip():
                return f"template {call.name!r}: a {part} parameter is empty"
            if len(value) > MAX_PARAM_LENGTH or "\n" in value or "    " in value:
                # Meta refuses parameters with new lines, tabs or 4+ spaces (132012).
                return (f"template {call.name!r}: a {part} parameter is longer than "
                        f"{MAX_PARAM_LENGTH} characters or has a new line or 4 spaces")
    if len(call.button_payloads) > len(template.buttons):
        return (f"template {call.name!r} ({call.language}) has {len(template.buttons)} "
                f"quick-reply button(s); {len(call.button_payloads)} payloads given")
    return None


def normalise_phone(raw: str, country: str | None = None,
                    default_country: str | None = None) -> str:
    """``raw`` in E.164. International forms ("+254…", "00254…", "254…") need no country; a
    national form ("0712 345 678") is read in ``country``, else ``default_country``.
    Raises InvalidInput naming the field to fix."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    regions = [r.strip().upper() for r in (country, default_country) if r and r.strip()]
    candidates: list[tuple[str, str | None]] = [(text, r) for r in regions] or [(text, None)]
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith(("+", "0")) and len(digits) > 9:
        candidates.append(("+" + digits, None))  # international without the plus
    for candidate, region in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not regions and not text.startswith("+"):
        raise InvalidInput("a national phone number needs a country: give it in "
                           "international format (+254…) or set the patient's country",
                           details={"field": "phone"})
    raise InvalidInput("not a valid phone number" + (f" for {regions[0]}" if regions else ""),
                       details={"field": "phone"})


def keyword(text: str) -> str:
    """A message as a keyword: trimmed, case-folded, accents removed, final punctuation
    dropped ("Arrêt." -> "arret")."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.strip(" .!?¡¿'\"").strip()


def keyword_set(words: Iterable[str]) -> frozenset[str]:
    return frozenset(k for k in (keyword(w) for w in words) if k)
