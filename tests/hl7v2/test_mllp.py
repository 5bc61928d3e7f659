"""MllpServer and send_mllp over real TCP (and TLS) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.hl7v2.ack import build_ack, respond
from adapters.hl7v2.mllp import END, START, MllpServer, frame, read_frames, send_mllp
from adapters.hl7v2.parser import parse_oru, peek_header
from resolvers.labs.oru import MalformedMessage, UnsupportedMessage
from tests.hl7v2.messages import WORKED_EXAMPLE, oru

HOST = "127.0.0.1"
Handler = Callable[[bytes], Awaitable[bytes | list[bytes]]]


async def ingest(raw: bytes) -> list[bytes]:
    """What the gateway does, minus storage: parse, then the ACK(s) for the outcome."""
    header = peek_header(raw)
    try:
        message = parse_oru(raw)
    except UnsupportedMessage as exc:
        acks = respond(header, raw, accepted=False, app_ok=False, rejected=True, error=exc)
    except MalformedMessage as exc:
        acks = respond(header, raw, accepted=False, app_ok=False, error=exc)
    else:
        acks = respond(message.header, raw, accepted=True, app_ok=True)
    return [a.encode() for a in acks]


def msa(ack: bytes) -> str:
    return ack.decode().split("\r")[1]


@pytest.fixture
async def server() -> AsyncIterator[MllpServer]:
    srv = MllpServer(ingest, HOST, 0)
    await srv.start()
    yield srv
    await srv.stop(grace=2)


async def test_one_message_round_trip(server: MllpServer) -> None:
    acks = await send_mllp(HOST, server.bound_port, WORKED_EXAMPLE, expected=1)
    assert [msa(a) for a in acks] == ["MSA|CA|LAB000123"]


async def test_split_frames_are_buffered(server: MllpServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, server.bound_port)
    data = frame(oru(3, control_id="SPLIT1"))
    # Pieces cut inside the start block's neighbourhood, the body, and between 0x1C and 0x0D.
    cuts = [0, 1, 2, 40, 41, len(data) // 2, len(data) - 2, len(data) - 1, len(data)]
    for a, b in itertools.pairwise(cuts):
        writer.write(data[a:b])
        await writer.drain()
        await asyncio.sleep(0.01)
    acks = await read_frames(reader, 1)
    assert msa(acks[0]) == "MSA|AA|SPLIT1"
    writer.close()


async def test_coalesced_frames_and_garbage_before_a_start_block(server: MllpServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, server.bound_port)
    writer.write(b"noise\r\n" + frame(oru(control_id="C1")) + b"\x1c\r junk " +
                 frame(oru(control_id="C2")) + frame(oru(control_id="C3"))[:30])
    await writer.drain()
    acks = await read_frames(reader, 2)
    assert [msa(a) for a in acks] == ["MSA|AA|C1", "MSA|AA|C2"]
    writer.write(frame(oru(control_id="C3"))[30:])
    assert [msa(a) for a in await read_frames(reader, 1)] == ["MSA|AA|C3"]
    writer.close()


async def test_several_messages_on_one_connection_in_order(server: MllpServer) -> None:
    messages = [oru(control_id=f"M{i}") for i in range(5)]
    acks = await send_mllp(HOST, server.bound_port, messages, expected=5)
    assert [msa(a) for a in acks] == [f"MSA|AA|M{i}" for i in range(5)]
    reader, writer = await asyncio.open_connection(HOST, server.bound_port)
    for i in range(3):  # one after the other, waiting for each ACK
        writer.write(frame(oru(control_id=f"S{i}")))
        assert msa((await read_frames(reader, 1))[0]) == f"MSA|AA|S{i}"
    writer.close()


async def test_enhanced_mode_returns_two_acks_and_errors_are_acked(server: MllpServer) -> None:
    acks = await send_mllp(HOST, server.bound_port, oru(control_id="E1", accept="AL",
                                                        application="AL"))
    assert [msa(a) for a in acks] == ["MSA|CA|E1", "MSA|AA|E1"]
    bad = oru(control_id="E2", pid="PID|1||^^^HOSP^MR||DOE^JANE")
    (ack,) = await send_mllp(HOST, server.bound_port, bad, expected=1)
    assert ack.decode().split("\r")[1:3] == [
        "MSA|AE|E2", "ERR||PID^1^3^1^1|101^Required field missing^HL70357|E||||required "
        "field PID-3 (patient identifier list) has no identifier value (PID-3.1)"]
    (ack,) = await send_mllp(HOST, server.bound_port, oru(message_type="ADT^A01"), expected=1)
    assert msa(ack) == "MSA|AR|CTRL1"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with MllpServer(ingest, HOST, 0, ssl_context=server_ctx) as srv:
        acks = await send_mllp(HOST, srv.bound_port, [WORKED_EXAMPLE, oru(control_id="T2")],
                               ssl=client_ctx, server_hostname="localhost", expected=2)
        assert [msa(a) for a in acks] == ["MSA|CA|LAB000123", "MSA|AA|T2"]
        # A plain-TCP client gets no ACK out of a TLS listener.
        try:
            plain = await send_mllp(HOST, srv.bound_port, WORKED_EXAMPLE, expected=1, within=1)
        except (TimeoutError, ConnectionError):
            plain = []
        assert plain == []


async def test_oversize_frame_gets_an_ar_and_the_connection_closed() -> None:
    async with MllpServer(ingest, HOST, 0, max_message_bytes=2000) as srv:
        reader, writer = await asyncio.open_connection(HOST, srv.bound_port)
        writer.write(START + oru(100, control_id="BIG1").encode())  # no end block yet
        await writer.drain()
        (ack,) = await read_frames(reader, 1)
        lines = ack.decode().split("\r")
        assert lines[1] == "MSA|AR|BIG1"
        assert lines[2].startswith("ERR|||207^Application internal error^HL70357|E||||")
        assert "larger than the 2000 bytes" in lines[2]
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
        writer.close()
        # A complete oversize frame in one piece gets the same answer.
        acks = await send_mllp(HOST, srv.bound_port, oru(100, control_id="BIG2"), expected=1)
        assert msa(acks[0]) == "MSA|AR|BIG2"
        # Normal messages are still fine.
        assert msa((await send_mllp(HOST, srv.bound_port, oru(), expected=1))[0]) == "MSA|AA|CTRL1"


async def test_ack_is_written_only_after_the_handler_returns() -> None:
    committed = asyncio.Event()
    entered = asyncio.Event()

    async def slow_commit(raw: bytes) -> bytes:
        entered.set()
        await committed.wait()
        return build_ack(parse_oru(raw).header, raw, "AA").encode()

    async with MllpServer(slow_commit, HOST, 0) as srv:
        reader, writer = await asyncio.open_connection(HOST, srv.bound_port)
        writer.write(frame(oru(control_id="LATE")))
        await writer.drain()
        await asyncio.wait_for(entered.wait(), 2)
        with pytest.raises(TimeoutError):  # nothing may arrive before the commit
            await asyncio.wait_for(reader.read(1), 0.3)
        committed.set()
        assert msa((await read_frames(reader, 1))[0]) == "MSA|AA|LATE"
        writer.close()


async def test_graceful_stop_finishes_the_message_in_flight() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def handler(raw: bytes) -> bytes:
        entered.set()
        await release.wait()
        return build_ack(parse_oru(raw).header, raw, "AA").encode()

    srv = MllpServer(handler, HOST, 0)
    await srv.start()
    port = srv.bound_port
    busy_reader, busy_writer = await asyncio.open_connection(HOST, port)
    idle_reader, idle_writer = await asyncio.open_connection(HOST, port)
    busy_writer.write(frame(oru(control_id="INFLIGHT")) + frame(oru(control_id="QUEUED")))
    await busy_writer.drain()
    await asyncio.wait_for(entered.wait(), 2)

    stopping = asyncio.create_task(srv.stop(grace=5))
    await asyncio.sleep(0.1)
    assert not stopping.done()
    with pytest.raises(OSError):  # no longer accepting
        await asyncio.open_connection(HOST, port)
    assert await asyncio.wait_for(idle_reader.read(), 2) == b""  # idle connection closed
    release.set()
    acks = await read_frames(busy_reader, None, within=3)
    assert [msa(a) for a in acks] == ["MSA|AA|INFLIGHT"]  # the queued one is left for resend
    await asyncio.wait_for(stopping, 3)
    assert await asyncio.wait_for(busy_reader.read(), 2) == b""
    busy_writer.close()
    idle_writer.close()


async def test_handler_failure_is_answered_with_ar() -> None:
    async def broken(raw: bytes) -> bytes:
        raise RuntimeError("database down")

    async with MllpServer(broken, HOST, 0) as srv:
        (ack,) = await send_mllp(HOST, srv.bound_port, oru(control_id="F1"), expected=1)
        lines = ack.decode().split("\r")
        assert lines[1] == "MSA|AR|F1"
        assert lines[2].startswith("ERR|||207^Application internal error^HL70357|E")


async def test_idle_connections_time_out() -> None:
    async with MllpServer(ingest, HOST, 0, idle_timeout=0.2) as srv:
        reader, writer = await asyncio.open_connection(HOST, srv.bound_port)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()


async def test_end_block_constant_and_frame() -> None:
    assert frame("A") == b"\x0bA\x1c\r" and END == b"\x1c\r"
