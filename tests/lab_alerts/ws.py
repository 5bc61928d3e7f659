"""A small ``graphql-transport-ws`` client over the ``websockets`` package, as a front-end
app would speak it: connection_init with the token, subscribe, read next/error/complete."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

SUBSCRIPTION = """subscription Alerts($facility: ID) {
  labAlertRaised(facilityId: $facility) {
    id facilityId labResultId patientId code direction createdAt escalationLevel
  }
}"""


@dataclass
class Subscriber:
    socket: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    completed: bool = False
    closed: str | None = None  # the server's close code and reason, if it closed

    async def subscribe(self, facility: str | None = None, op_id: str = "1") -> None:
        await self.socket.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {
            "query": SUBSCRIPTION, "variables": {"facility": facility}}}))

    async def read(self) -> None:
        """Collect messages until the socket closes (run as a task)."""
        try:
            await self._read()
        except websockets.ConnectionClosed:
            pass
        self.closed = f"{self.socket.close_code} {self.socket.close_reason}"

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    self.errors.append(payload["errors"])
                if payload.get("data"):
                    self.events.append(payload["data"]["labAlertRaised"])
            elif message["type"] == "error":
                self.errors.append(message["payload"])
            elif message["type"] == "complete":
                self.completed = True
            elif message["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


@contextlib.asynccontextmanager
async def subscriber(base_url: str, init_payload: dict[str, Any] | None,
                     facility: str | None = None) -> AsyncIterator[Subscriber]:
    """Connected, acknowledged and subscribed; reading in the background."""
    async with websockets.connect(ws_url(base_url),
                                  subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        sub = Subscriber(socket)
        await sub.subscribe(facility)
        reader = asyncio.create_task(sub.read())
        await asyncio.sleep(0.2)  # the operation is listening before the test goes on
        try:
            yield sub
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def refused_close_code(base_url: str, init_payload: dict[str, Any] | None) -> int | None:
    """The close code the server answers connection_init with (None if it acknowledged)."""
    async with websockets.connect(ws_url(base_url),
                                  subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        assert message["type"] == "connection_ack", message
        return None
