"""Canonical byte encodings of state values. Consensus-critical: the app hash covers these bytes."""
from __future__ import annotations


def encode_uint(n: int) -> bytes:
    """Big-endian, minimal, non-empty (zero is b"\\x00"; zero balances are never stored anyway)."""
    if n < 0:
        raise ValueError("negative integer in state")
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def decode_uint(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def encode_u64(n: int) -> bytes:
    return n.to_bytes(8, "big")
