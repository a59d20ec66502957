"""Canonical byte encodings of state values. Consensus-critical: the app hash covers these bytes."""
from __future__ import annotations

import json


def encode_uint(n: int) -> bytes:
    """Big-endian, minimal, non-empty (zero is b"\\x00"; zero balances are never stored anyway)."""
    if n < 0:
        raise ValueError("negative integer in state")
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def decode_uint(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def encode_u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def encode_record(obj: dict) -> bytes:
    """Small records (params): JSON with sorted keys and no spaces. Values are ints, strings, lists."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def decode_record(raw: bytes) -> dict:
    return json.loads(raw)
