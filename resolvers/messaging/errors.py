"""Expected failures of messaging; the surfaces render them."""

from __future__ import annotations

from resolvers.errors import Conflict, DomainError


class GraphUnavailable(DomainError):
    """The Graph API did not answer usefully (down, 5xx, expired token): 502."""

    code = "bad_gateway"


class OutsideWindow(Conflict):
    """Free-form text to a phone that has not written to us within 24 hours: 409."""


class NotSendable(Conflict):
    """Opted out, or no opt-in, for a message that needs one: 409."""
