"""Expected failures of the imaging use cases; the surfaces render them."""

from __future__ import annotations

from resolvers.errors import DomainError, Forbidden


class PacsUnavailable(DomainError):
    """The PACS did not answer (down, refused, timed out, or answered 5xx): 502."""

    code = "bad_gateway"


class ViewerTokenRefused(Forbidden):
    """A viewer token that is not ours, expired, or asked for another study: 403."""
