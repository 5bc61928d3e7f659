"""The MLLP surface: laboratory systems that speak HL7 over TCP (optionally TLS).

It only translates: bytes in, the same lab ingest entrance as HTTP (``LabIngestPort.ingest``,
role rules and the parser's tolerance included), ACK bytes out. The ACK is built after
``ingest`` returns, i.e. after the transaction committed, so an AA/CA always means the results
are stored; what ingest had to assume goes back as ERR segments with severity W. Original or
enhanced mode follows MSH-15/MSH-16. MLLP carries no credentials: the listener trusts the
network (TLS with client certificates or a VPN); messages are ingested as a ``lab``
principal named after the listener.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from resolvers.errors import DomainError
from resolvers.labs.oru import Header, MalformedMessage, UnsupportedMessage
from resolvers.labs.ports import LabIngestPort
from resolvers.labs.records import ControlIdReused
from resolvers.operations.messages.records import RefusalRecorder
from resolvers.principal import Caller, Principal, Role

from .ack import encode_ack, respond
from .parser import peek_header

log = logging.getLogger("cari.mllp")


def mllp_handler(labs: LabIngestPort, listener_name: str = "mllp", *,
                 refusals: RefusalRecorder | None = None
                 ) -> Callable[[bytes], Awaitable[list[bytes]]]:
    caller = Caller(Principal(subject=listener_name, roles=frozenset({Role.LAB.value})),
                    surface="mllp")

    async def handle(raw: bytes) -> list[bytes]:
        # Read without checks first: every answer, a refusal included, goes back in the
        # sender's mode (MSH-15/16) and charset (MSH-18).
        header: Header | None = peek_header(raw)
        refused: UnsupportedMessage | MalformedMessage | None = None
        try:
            result = await labs.ingest(caller, raw)
            acks = respond(header, raw, accepted=True, app_ok=True, warnings=result.warnings)
        except UnsupportedMessage as exc:
            refused = exc
            acks = respond(header, raw, accepted=False, app_ok=False, rejected=True, error=exc)
        except MalformedMessage as exc:
            refused = exc
            acks = respond(header, raw, accepted=False, app_ok=False, error=exc)
        except ControlIdReused as exc:  # table 0357 code 205: duplicate key identifier
            acks = respond(header, raw, accepted=False, app_ok=False, error=MalformedMessage(
                str(exc), location="MSH^1^10", hl7_error_code="205"))
        except DomainError as exc:  # e.g. an unknown encounter: the content cannot be stored
            acks = respond(header, raw, accepted=False, app_ok=False, error=str(exc))
        except Exception as exc:  # not stored: a reject tells the sender to try again later
            log.error("MLLP ingest failed", exc_info=exc)
            acks = respond(header, raw, accepted=False, app_ok=False, rejected=True,
                           error="internal error; the message was not stored, resend later")
        if refused is not None and refusals is not None:
            # Refused before storage: kept for the console's message log with the ACK codes sent.
            await refusals.hl7("hl7-mllp", raw, reason=str(refused),
                               answer=" ".join(_ack_codes(acks)) or "no ACK")
        return [encode_ack(a, header) for a in acks]

    return handle


def _ack_codes(acks: list[str]) -> list[str]:
    """MSA-1 of each ACK text (AE, AR, CE, CR)."""
    codes = []
    for ack in acks:
        for segment in ack.replace("\n", "\r").split("\r"):
            if segment.startswith("MSA") and len(segment) > 4:
                codes.append(segment.split(segment[3])[1])
    return codes
