"""What the health report reads besides other capabilities' use cases."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from resolvers.crossborder.model import HieCircuit
from resolvers.payments.provider_health import PaymentProviderHealth


class CertificateReader(Protocol):
    def not_after(self, path: str) -> datetime:
        """The certificate's expiry (the first one in a PEM file); OSError or ValueError when
        the file cannot be read as one."""
        ...


class HieCircuits(Protocol):
    def circuits(self) -> list[HieCircuit]: ...


class PaymentProviderStates(Protocol):
    async def providers(self) -> list[PaymentProviderHealth]: ...
