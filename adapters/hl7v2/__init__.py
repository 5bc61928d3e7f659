"""HL7 v2 adapter: ORU^R01 parsing, ACKs and the MLLP transport (see the modules)."""

from adapters.hl7v2.ack import ack_mode, acks_to_send, build_ack, encode_ack, respond
from adapters.hl7v2.parser import parse_oru, peek_header, read_header
from adapters.hl7v2.validation import validate_structure

__all__ = ["ack_mode", "acks_to_send", "build_ack", "encode_ack", "parse_oru", "peek_header",
           "read_header", "respond", "validate_structure"]
