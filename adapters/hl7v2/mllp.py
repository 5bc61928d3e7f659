"""MLLP (Minimal Lower Layer Protocol) over TCP or TLS, with asyncio.

Frame: ``0x0B`` + message + ``0x1C 0x0D``. Frames are buffered across reads (split or
coalesced), several messages may follow on one connection, and bytes before a start block are
discarded. Messages of one connection are handled one after the other, in order; the ACK
frames a handler returns are written strictly after the handler has returned (the gateway's
ingest returns them only after its commit). A frame larger than ``max_message_bytes`` is
answered with an AR ACK and the connection closed. MLLP itself has no security: pass an
``ssl_context`` (or run it behind a VPN).

``stop()`` is graceful: it stops accepting, closes idle connections, lets every message
already being handled finish and its ACK be written, then closes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType

from resolvers.labs.oru import MalformedMessage

from .ack import build_ack

__all__ = ["END", "START", "Handler", "MllpServer", "frame", "read_frames", "send_mllp"]

START = b"\x0b"
END = b"\x1c\x0d"
Handler = Callable[[bytes], Awaitable[bytes | list[bytes]]]
log = logging.getLogger(__name__)


def frame(message: bytes | str) -> bytes:
    """One MLLP frame (str is sent as UTF-8)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return START + data + END


class _Connection:
    __slots__ = ("busy", "peer", "task", "writer")

    def __init__(self, writer: asyncio.StreamWriter, task: asyncio.Task[None] | None) -> None:
        self.writer = writer
        self.task = task
        self.busy = False
        self.peer = writer.get_extra_info("peername")


class MllpServer:
    """An MLLP listener calling ``handler(raw) -> ACK bytes (or a list of them)`` per message."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 2575, *,
                 ssl_context: _ssl.SSLContext | None = None,
                 max_message_bytes: int = 8 * 1024 * 1024, idle_timeout: float = 300.0,
                 read_size: int = 64 * 1024) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.max_message_bytes = max_message_bytes
        self.idle_timeout = idle_timeout
        self.read_size = read_size
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._closing = False

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the MLLP server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._closing = False
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  ssl=self.ssl_context)
        log.info("MLLP listening on %s:%s%s", self.host, self.bound_port,
                 " (TLS)" if self.ssl_context else "")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; finish in-flight messages (up to ``grace`` seconds); close."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            if not conn.busy and conn.task is not None:
                conn.task.cancel()  # idle: waiting for bytes, nothing in flight
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("MLLP stop: %d connection(s) still busy after %.1f s, cancelled",
                            len(pending), grace)
                await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MllpServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer, asyncio.current_task())
        self._connections.add(conn)
        try:
            if not self._closing:
                await self._read_loop(reader, conn)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, _ssl.SSLError) as exc:
            log.info("MLLP connection from %s ended: %s", conn.peer, exc)
        finally:
            self._connections.discard(conn)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def _read_loop(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        buffer = bytearray()
        scan_from = 1  # where to resume looking for the end block
        while not self._closing:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    data = await reader.read(self.read_size)
            except TimeoutError:
                log.info("MLLP connection from %s idle for %.0f s, closed", conn.peer,
                         self.idle_timeout)
                return
            if not data:
                return
            buffer += data
            while buffer:
                start = buffer.find(START)
                if start < 0:
                    buffer.clear()  # garbage outside any frame
                    break
                if start:
                    del buffer[:start]
                    scan_from = 1
                end = buffer.find(END, scan_from)
                if end < 0:
                    if len(buffer) - 1 > self.max_message_bytes:
                        await self._oversize(conn, bytes(buffer[1:4096]))
                        return
                    scan_from = max(1, len(buffer) - 1)
                    break
                payload = bytes(buffer[1:end])
                del buffer[:end + 2]
                scan_from = 1
                restart = payload.rfind(START)
                if restart >= 0:  # an aborted frame followed by a new start block
                    payload = payload[restart + 1:]
                if len(payload) > self.max_message_bytes:
                    await self._oversize(conn, payload[:4096])
                    return
                conn.busy = True
                try:
                    await self._handle(conn, payload)
                finally:
                    conn.busy = False
                if self._closing:
                    return

    async def _handle(self, conn: _Connection, payload: bytes) -> None:
        try:
            result = await self.handler(payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("MLLP handler failed for a message from %s; answering AR", conn.peer)
            result = build_ack(None, payload, "AR", error="internal error; please resend"
                               ).encode("utf-8")
        acks = result if isinstance(result, list) else [result]
        for ack in acks:
            conn.writer.write(frame(ack))
        await conn.writer.drain()

    async def _oversize(self, conn: _Connection, head: bytes) -> None:
        error = MalformedMessage(f"the message is larger than the {self.max_message_bytes} bytes "
                                 "this listener accepts", hl7_error_code="207")
        log.warning("MLLP frame from %s over %d bytes: AR and close", conn.peer,
                    self.max_message_bytes)
        conn.writer.write(frame(build_ack(None, head, "AR", error=error)))
        with contextlib.suppress(ConnectionError):
            await conn.writer.drain()


async def read_frames(reader: asyncio.StreamReader, count: int | None = None, *,
                      within: float = 10.0, quiet: float = 0.3) -> list[bytes]:
    """Read MLLP frames: ``count`` of them, or (``count`` None) until EOF or until nothing
    more arrives for ``quiet`` seconds after the first frame."""
    frames: list[bytes] = []
    buffer = bytearray()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while count is None or len(frames) < count:
        wait = deadline - loop.time()
        if frames and count is None:
            wait = min(wait, quiet)
        if wait <= 0:
            if count is not None or not frames:
                raise TimeoutError(f"no complete MLLP frame within {within} s")
            break
        try:
            data = await asyncio.wait_for(reader.read(65536), wait)
        except TimeoutError:
            if count is None and frames:
                break
            raise TimeoutError(f"{len(frames)} MLLP frame(s) received, more expected") from None
        if not data:
            break
        buffer += data
        while True:
            start = buffer.find(START)
            end = buffer.find(END, start + 1) if start >= 0 else -1
            if end < 0:
                break
            frames.append(bytes(buffer[start + 1:end]))
            del buffer[:end + 2]
    return frames


async def send_mllp(host: str, port: int, message: bytes | str | Sequence[bytes | str], *,
                    ssl: _ssl.SSLContext | None = None, server_hostname: str | None = None,
                    expected: int | None = None, within: float = 10.0) -> list[bytes]:
    """Send one message (or several, one frame each, in one write) and return the ACK frames
    read back: ``expected`` of them, else all that arrive (see :func:`read_frames`)."""
    messages = [message] if isinstance(message, bytes | str) else list(message)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl,
                                server_hostname=server_hostname if ssl else None), within)
    try:
        writer.write(b"".join(frame(m) for m in messages))
        await writer.drain()
        return await read_frames(reader, expected, within=within)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
