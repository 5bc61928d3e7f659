"""CORS for the CDS Hooks paths only (CDS Hooks 2.0: browser-based EHRs call services).

Origins come from ``CARI_CDS_CORS_ORIGINS``; preflight (OPTIONS) is answered for them, with
``Authorization`` and ``Content-Type`` allowed, and refused (400) for any other origin.
The gateway-wide CORS (``CARI_CORS_ORIGINS``) does not apply under these paths: the request
passes inward without its Origin header, so the two policies never both answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CDS_PREFIXES = ("/cds-services", "/cds-hooks")


class _WithoutOrigin:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k != b"origin"]
        await self.app({**scope, "headers": headers}, receive, send)


class CdsCorsMiddleware:
    def __init__(self, app: ASGIApp, *, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            _WithoutOrigin(app), allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-ID"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CDS_PREFIXES):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
