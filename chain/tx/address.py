"""Human-readable addresses: bech32 with the "grad" prefix over the 20 address bytes."""
from __future__ import annotations

import functools
import hashlib

import bech32

from chain.tx.errors import InvalidAddress

PREFIX = "grad"
ADDRESS_LEN = 20


@functools.lru_cache(maxsize=65536)  # pure; 45 us per call, and events name the same accounts again and again
def to_bech32(address: bytes) -> str:
    if len(address) != ADDRESS_LEN:
        raise InvalidAddress(f"address must be {ADDRESS_LEN} bytes")
    return bech32.bech32_encode(PREFIX, bech32.convertbits(address, 8, 5))


def from_bech32(text: str) -> bytes:
    prefix, data = bech32.bech32_decode(text)
    if prefix != PREFIX or data is None:
        raise InvalidAddress(f"{text!r} is not a {PREFIX}1... address (bad prefix or checksum)")
    raw = bech32.convertbits(data, 5, 8, False)
    if raw is None or len(raw) != ADDRESS_LEN:
        raise InvalidAddress(f"{text!r} does not hold {ADDRESS_LEN} address bytes")
    return bytes(raw)


def module_address(name: str) -> bytes:
    """Accounts owned by a module (fee collector, escrows): no private key exists for them."""
    return hashlib.sha256(b"module:" + name.encode()).digest()[:ADDRESS_LEN]
