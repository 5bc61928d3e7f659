"""Viewer tokens: PASETO v4.local (encrypted and authenticated with a symmetric key), so the
URL carries the grant without showing the patient id to whoever sees the URL.

The key is CARI_PACS_VIEWER_TOKEN_KEY (a k4.local PASERK, the same for every gateway
process behind a load balancer), else a file under the data directory made on first start.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pyseto
from pyseto import Key, KeyInterface

from resolvers.imaging.errors import ViewerTokenRefused
from resolvers.imaging.model import ViewerGrant

KEY_FILE = "pacs-viewer-token.key"
PURPOSE = "cari-dicom-viewer"  # the footer: a viewer token is never mistaken for another


def load_or_create_viewer_key(data_dir: Path, configured: str = "") -> KeyInterface:
    if configured:
        return Key.from_paserk(configured)
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        paserk = Key.new(version=4, purpose="local", key=secrets.token_bytes(32)).to_paserk()
        try:  # O_EXCL: two processes starting at once must not both write a key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(paserk + "\n")
        except FileExistsError:
            pass
    return Key.from_paserk(path.read_text(encoding="utf-8").strip())


class PasetoViewerTokens:
    def __init__(self, key: KeyInterface) -> None:
        self._key = key

    def issue(self, grant: ViewerGrant) -> str:
        claims = {"jti": grant.token_id, "study": grant.study_uid, "patient": grant.patient_id,
                  "sub": grant.subject, "exp": grant.expires_at.isoformat()}
        token = pyseto.encode(self._key, json.dumps(claims).encode(), footer=PURPOSE)
        return token.decode("ascii") if isinstance(token, bytes) else str(token)

    def read(self, token: str) -> ViewerGrant:
        try:
            decoded = pyseto.decode(self._key, token)
            if decoded.footer != PURPOSE.encode():
                raise ValueError("not a viewer token")
            payload = decoded.payload
            claims = payload if isinstance(payload, dict) else json.loads(payload)
            return ViewerGrant(token_id=str(claims["jti"]), study_uid=str(claims["study"]),
                               patient_id=str(claims["patient"]), subject=str(claims["sub"]),
                               expires_at=datetime.fromisoformat(claims["exp"]).astimezone(UTC))
        except Exception:  # pyseto raises several kinds; none of them is the caller's business
            raise ViewerTokenRefused("the viewer token is not valid") from None
