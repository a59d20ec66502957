"""CometBFT's simple Merkle tree (crypto/merkle/tree.go, RFC 6962 shape): the header hash and the validator
set hash are its root over the encoded fields. SHA-256; a leaf is H(0x00 || item), an inner node
H(0x01 || left || right); n items split at the largest power of two below n; no items hash to H("")."""
from __future__ import annotations

import hashlib


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(item: bytes) -> bytes:
    return _sha256(b"\x00" + item)


def inner_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def _split_point(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def hash_from_byte_slices(items: list[bytes]) -> bytes:
    if not items:
        return _sha256(b"")
    if len(items) == 1:
        return leaf_hash(items[0])
    k = _split_point(len(items))
    return inner_hash(hash_from_byte_slices(items[:k]), hash_from_byte_slices(items[k:]))
