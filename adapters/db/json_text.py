"""JSON documents to the text the database stores: msgspec's encoder, not the json module.

SQLAlchemy's JSON columns serialise with ``json.dumps`` by default; storing a 10-result lab
message spent about a twenty-fifth of its CPU there. msgspec writes the same JSON (same key
order, compact separators, UTF-8 instead of \\u escapes) several times faster. A value it
will not encode (an integer beyond 64 bits, say) goes to ``json.dumps`` as before.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_ENCODE = msgspec.json.Encoder().encode


def json_text(value: Any) -> str:
    try:
        return _ENCODE(value).decode()
    except (TypeError, OverflowError, msgspec.EncodeError):
        return json.dumps(value)
