"""Reading a PEM certificate's expiry (HIE mTLS client certificates, the MLLP server's)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography import x509

MAX_PEM_BYTES = 1_048_576


class PemCertificateReader:
    def not_after(self, path: str) -> datetime:
        """The first certificate's notAfter (UTC); OSError or ValueError when unreadable."""
        data = Path(path).read_bytes()[:MAX_PEM_BYTES]
        return x509.load_pem_x509_certificate(data).not_valid_after_utc
