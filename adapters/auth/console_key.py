"""The key that seals the operator console's session cookies (PASETO v4.local)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

CONSOLE_KEY_FILE = "console-session.key"
KEY_BYTES = 32


def load_or_create_console_key(data_dir: Path) -> bytes:
    """32 random bytes under CARI_DATA_DIR, created on first start, readable by its owner
    only; every process sharing the data directory seals and opens the same cookies."""
    path = data_dir / CONSOLE_KEY_FILE
    if path.exists():
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} does not hold {KEY_BYTES} bytes in hex")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    try:  # O_EXCL: two processes starting at once must not both write a key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_console_key(data_dir)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key
