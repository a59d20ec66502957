"""Every key the auth module owns."""
from __future__ import annotations

SEQUENCE = b"auth/seq/"  # + address(20) -> next sequence (8 bytes big-endian)
PARAMS = b"auth/params"   # -> fee and size parameters (canonical JSON record)


def sequence_key(address: bytes) -> bytes:
    return SEQUENCE + address
