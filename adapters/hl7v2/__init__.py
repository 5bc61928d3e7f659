"""HL7 v2 adapter: ORU^R01 parsing, ACKs and the MLLP transport (see the modules)."""

from adapters.hl7v2.ack import ack_mode, acks_to_send, build_ack
from adapters.hl7v2.parser import parse_oru, read_header

__all__ = ["ack_mode", "acks_to_send", "build_ack", "parse_oru", "read_header"]
