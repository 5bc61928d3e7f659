"""Pure ASGI: an answer given before the request body was read closes the connection.

Routes refuse early (401/403 before the body, 413 on the declared length, a callback token
that cannot be ours): the rest of the body is then unwanted. Keeping the connection alive
would make the server read and discard all of it (50 MB of a refused upload) before the
next request; ``Connection: close`` tells the client to stop sending, and the server
closes the socket once the answer is written.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _announces_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
    return False


class CloseWhenBodyUnread:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _announces_body(scope):
            await self.app(scope, receive, send)
            return
        body_read = False

        async def watched_receive() -> Message:
            nonlocal body_read
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read = True
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_read:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, watched_receive, closing_send)
