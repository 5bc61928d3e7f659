"""The MLLP surface: laboratory systems that speak HL7 over TCP (optionally TLS).

Like the REST routes, it only translates: bytes in, the lab ingest use case, ACK bytes out.
The ACK is built after ``ingest`` returns, i.e. after the transaction committed, so an AA/CA
always means the results are stored. Original or enhanced mode follows MSH-15/MSH-16.
MLLP carries no credentials: the listener trusts the network (TLS with client certificates
or a VPN); messages are ingested as a ``lab`` principal named after the listener.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from adapters.hl7v2 import parser as hl7_parser
from adapters.hl7v2.ack import encode_ack, respond
from resolvers.labs.ingest import LabIngest
from resolvers.labs.model import Header, MalformedMessage, UnsupportedMessage
from resolvers.principal import Caller, Principal, Role

log = logging.getLogger("cari.mllp")


def mllp_handler(labs: LabIngest,
                 listener_name: str = "mllp") -> Callable[[bytes], Awaitable[list[bytes]]]:
    caller = Caller(Principal(subject=listener_name, roles=frozenset({Role.LAB.value})),
                    surface="mllp")

    async def handle(raw: bytes) -> list[bytes]:
        # Read without checks first: even a message that fails to parse gets its ACK in the
        # sender's mode (MSH-15/16) and charset (MSH-18).
        header: Header | None = hl7_parser.peek_header(raw)
        try:
            message = hl7_parser.parse_oru(raw)
            header = message.header
            await labs.ingest_parsed(caller, message, raw)
            acks = respond(header, raw, accepted=True, app_ok=True)
        except UnsupportedMessage as exc:
            acks = respond(header, raw, accepted=False, app_ok=False, rejected=True, error=exc)
        except MalformedMessage as exc:
            acks = respond(header, raw, accepted=False, app_ok=False, error=exc)
        except Exception as exc:  # not stored: a reject tells the sender to try again later
            log.error("MLLP ingest failed", exc_info=exc)
            acks = respond(header, raw, accepted=False, app_ok=False, rejected=True,
                           error="internal error; the message was not stored, resend later")
        return [encode_ack(a, header) for a in acks]

    return handle
