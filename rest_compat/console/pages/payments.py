"""Payments: each payment's state with the provider's answers (callbacks, status queries,
Stripe events) and the reconciler's outcomes, from its history of transitions; filterable by
provider, status, direction and reference, newest first, paged.

The same ``PaymentUseCases`` as ``/api/payments`` and GraphQL: the role check and the audit
of payments that name a patient are theirs. A payer's phone is shown masked (the console
never needs it in full to follow a payment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from resolvers.payments.model import (
    PROVIDERS,
    Direction,
    PaymentQuery,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
)
from resolvers.payments.view import PaymentView
from resolvers.principal import Role
from rest_compat.console.framework import ConsoleRequest, Page
from rest_compat.console.masking import mask_phone

PAGE_SIZE = 50
ROLES = frozenset({Role.BILLING.value})
# Every move after creation is an answer of the provider: its acknowledgement of the request,
# its callback, a status query of it (by a reader or by the reconciler), Stripe's events.
FILTERS = ("provider", "status", "direction", "reference")


@dataclass(frozen=True)
class PaymentRow:
    view: PaymentView
    phone: str
    amount: str
    history: list[PaymentTransition]
    provider_answer: PaymentTransition | None  # the provider's latest word (None: silent)
    reconciled: PaymentTransition | None  # the reconciler's latest outcome


def amount_text(minor: int, currency: str) -> str:
    """Minor units as the currency's usual amount (two decimals but for zero-decimal ones)."""
    if currency in ZERO_DECIMAL:
        return f"{minor:,} {currency}"
    return f"{minor / 100:,.2f} {currency}"


# ISO 4217 currencies without minor units among those the gateway knows.
ZERO_DECIMAL = frozenset({"BIF", "CVE", "DJF", "GNF", "JPY", "KMF", "RWF", "UGX", "XAF",
                          "XOF"})


def _latest(history: list[PaymentTransition],
            sources: tuple[TransitionSource, ...] | None = None) -> PaymentTransition | None:
    """The newest move after creation, by one of ``sources`` (any when None)."""
    found = [t for t in history if t.from_status is not None
             and (sources is None or t.source in sources)]
    return found[-1] if found else None


def _choice(raw: str, allowed: tuple[str, ...]) -> str:
    return raw if raw in allowed else ""


async def payments_page(console: ConsoleRequest) -> Response:
    params = console.request.query_params
    filters = {
        "provider": _choice(params.get("provider", ""), PROVIDERS),
        "status": _choice(params.get("status", ""), tuple(s.value for s in PaymentStatus)),
        "direction": _choice(params.get("direction", ""), tuple(d.value for d in Direction)),
        "reference": params.get("reference", "").strip()[:64],
    }
    use_cases = console.services.payments.use_cases
    found = await use_cases.search(console.caller, PaymentQuery(
        provider=filters["provider"] or None,
        status=PaymentStatus(filters["status"]) if filters["status"] else None,
        direction=Direction(filters["direction"]) if filters["direction"] else None,
        reference=filters["reference"] or None,
        after=params.get("after") or None, limit=PAGE_SIZE))
    histories = await use_cases.history([v.payment.id for v in found])
    rows = []
    for view in found:
        history = sorted(histories.get(view.payment.id, []), key=lambda t: t.at)
        rows.append(PaymentRow(
            view=view, phone=mask_phone(view.payment.phone_e164),
            amount=amount_text(view.payment.amount_minor, view.payment.currency),
            history=history, provider_answer=_latest(history),
            reconciled=_latest(history, (TransitionSource.RECONCILE,))))
    next_params: dict[str, Any] | None = None
    if len(found) == PAGE_SIZE:
        next_params = {**{k: v for k, v in filters.items() if v},
                       "after": found[-1].payment.id}
    template = "partials/payment_rows.html" if console.is_htmx else "payments.html"
    return console.render(template, {
        "rows": rows, "filters": filters, "next_params": next_params, "providers": PROVIDERS,
        "statuses": [s.value for s in PaymentStatus],
        "directions": [d.value for d in Direction]})


PAGES = [
    Page("/payments", payments_page, "payments", roles=ROLES, nav_key="nav.payments",
         order=60),
]
