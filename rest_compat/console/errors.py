"""A use case's refusal in the operator's language.

A :class:`DomainError` may name its ``reason_code`` (a stable code such as
``review.task_already_decided``) and the values its text needs (``params``); the console
shows the locale key ``error.<reason_code>`` filled with them. A refusal without a code, or
with one that no locale file translates yet, shows the use case's English message: the
operator always learns why, in French when a translation exists.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from resolvers.errors import DomainError
from rest_compat.console.i18n import FALLBACK, Translator, catalogues, language_of
from rest_compat.console.rendering import when

KEY_PREFIX = "error."


def error_key(reason_code: str) -> str:
    return KEY_PREFIX + reason_code


def error_text(request: Request, error: DomainError) -> str:
    if error.reason_code is None or error_key(error.reason_code) not in catalogues()[FALLBACK]:
        return error.message
    # Times as the rest of the console shows them (UTC, to the second, in every language).
    params = {name: when(value) if isinstance(value, datetime) else value
              for name, value in error.params.items()}
    try:
        return Translator(language_of(request))(error_key(error.reason_code), **params)
    except (KeyError, IndexError, ValueError):
        # A translation naming a parameter the use case does not give: say it in English
        # rather than fail the page.
        return error.message
