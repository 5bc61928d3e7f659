"""A pure ASGI request-body limit for apps that read the body themselves (Strawberry).

The REST routes read through :func:`rest_compat.body.read_body`; ``/graphql`` is served by
Strawberry, which buffers the whole body before looking at it. This wrapper stands in front:
a declared ``Content-Length`` over the limit is answered at once, and a chunked body is
counted as the app pulls it from ``receive``, which fails the moment the count passes the
limit. The app never holds more than ``limit`` bytes of one request, whatever it does.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TooLargeResponse = Callable[[int], Response]


class _BodyOverLimit(Exception):  # not a ValueError: Strawberry turns those into a 400
    pass


class RequestBodyLimit:
    def __init__(self, app: ASGIApp, limit: int, too_large: TooLargeResponse) -> None:
        self.app = app
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self.too_large(self.limit)(scope, receive, send)
            return
        received = 0
        answered = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyOverLimit
            return message

        async def watched_send(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _BodyOverLimit:
            if answered:  # the app answered before reading everything; nothing left to say
                return
            await self.too_large(self.limit)(scope, receive, send)
