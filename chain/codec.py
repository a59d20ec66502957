"""Canonical byte encodings of state values. Consensus-critical: the app hash covers these bytes."""
from __future__ import annotations

import operator


def encode_uint(n: int) -> bytes:
    """Big-endian, minimal, non-empty (zero is b"\\x00"; zero balances are never stored anyway)."""
    if n < 0:
        raise ValueError("negative integer in state")
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def decode_uint(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def u64(*values: int) -> bytes:
    """Each value as 8 big-endian bytes, concatenated: how ids, rounds, heights and nonces appear in state keys,
    stored counters and query paths (so keys sort numerically). The one copy: chain keys, the SDK's query
    paths, the benches and tests all call this. Any integer type (int, bool, numpy ints) is taken as is;
    floats and strings are refused (TypeError), never truncated or parsed; out of range raises OverflowError."""
    return b"".join(operator.index(v).to_bytes(8, "big") for v in values)
