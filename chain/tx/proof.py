"""Merkle proofs of the app hash: the hashing scheme, the proof byte format and the verifier.

The app hash is the root of a binary sparse Merkle tree over hashed keys. Everything here is
specified so that another language can reimplement it; H is SHA-256, || is concatenation.

Hashing
    key_hash    = H(key)                       (32 bytes; its bits, most significant first, are the path)
    value_hash  = H(value)                     (any value, including the empty one)
    empty       = 32 zero bytes                (the hash of an empty subtree; no preimage is known)
    leaf        = H(0x00 || key_hash || value_hash)
    internal    = H(0x01 || left || right)
    At depth i (the root is depth 0), bit i of key_hash selects left (0) or right (1).

Canonical shape
    A leaf sits at the shallowest depth where it is alone in its subtree: a subtree holding exactly
    one leaf IS that leaf, so no internal node has an empty child and a leaf child. An internal node
    may have an empty child and an internal child (two leaves sharing a longer prefix). The root is
    therefore a function of the set of (key, value) pairs alone. The empty tree's root is `empty`.
    Leaves lie at depth <= 256, since distinct key hashes differ in some bit.

Proof
    The hashes of the siblings along the key's path from the root down to where the path ends,
    and what the path ends at (the terminal):
      0  the key's own leaf            proves inclusion of (key, value)
      1  an empty subtree              proves absence
      2  another key's leaf            proves absence; carries that leaf's key_hash and value_hash,
                                       whose first `depth` bits must equal the key's
    The verifier hashes the terminal, folds in the siblings from the deepest up, and compares with
    the root.

Proof bytes (all integers big-endian)
    terminal        1 byte      0, 1 or 2
    other leaf      64 bytes    key_hash || value_hash; present only when terminal == 2
    depth           2 bytes     number of siblings, 0..256
    bitmap          ceil(depth / 8) bytes; bit i (most significant bit of byte 0 first) is 1 when the
                    sibling at depth i is non-empty; bits past `depth` must be 0
    siblings        32 bytes for each 1 bit of the bitmap, root side first; none may be 32 zero bytes
    Nothing may follow. Each proof has exactly one encoding.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = [
    "EMPTY", "HASH_LEN", "MAX_DEPTH", "LEAF_OF_KEY", "EMPTY_SUBTREE", "OTHER_LEAF",
    "Proof", "ProofError", "decode", "encode", "verify_proof",
    "key_hash", "value_hash", "leaf_hash", "internal_hash", "bit",
]

HASH_LEN = 32
EMPTY = bytes(HASH_LEN)
MAX_DEPTH = 256
LEAF_TAG = b"\x00"      # node encodings start with these; a node's hash is H(encoding)
INTERNAL_TAG = b"\x01"

LEAF_OF_KEY, EMPTY_SUBTREE, OTHER_LEAF = 0, 1, 2
MAX_PROOF_BYTES = 1 + 2 * HASH_LEN + 2 + MAX_DEPTH // 8 + MAX_DEPTH * HASH_LEN


class ProofError(ValueError):
    """The proof is malformed or does not show the claimed value under the claimed root."""


def key_hash(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


def value_hash(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def leaf_hash(k_hash: bytes, v_hash: bytes) -> bytes:
    return hashlib.sha256(LEAF_TAG + k_hash + v_hash).digest()


def internal_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(INTERNAL_TAG + left + right).digest()


def bit(k_hash: bytes, depth: int) -> int:
    """Bit `depth` of a key hash, most significant first: 0 goes left, 1 goes right."""
    return (k_hash[depth >> 3] >> (7 - (depth & 7))) & 1


@dataclass(frozen=True)
class Proof:
    terminal: int                  # LEAF_OF_KEY, EMPTY_SUBTREE or OTHER_LEAF
    siblings: tuple[bytes, ...]    # root side first, EMPTY included; len(siblings) is the depth
    other_key_hash: bytes = b""    # only for OTHER_LEAF
    other_value_hash: bytes = b""


def encode(proof: Proof) -> bytes:
    depth = len(proof.siblings)
    if proof.terminal not in (LEAF_OF_KEY, EMPTY_SUBTREE, OTHER_LEAF) or depth > MAX_DEPTH:
        raise ProofError(f"cannot encode a proof with terminal {proof.terminal} and depth {depth}")
    other = proof.other_key_hash + proof.other_value_hash
    if len(other) != (2 * HASH_LEN if proof.terminal == OTHER_LEAF else 0):
        raise ProofError("only an OTHER_LEAF proof carries a leaf, of two 32-byte hashes")
    if any(len(s) != HASH_LEN for s in proof.siblings):
        raise ProofError(f"siblings must be {HASH_LEN}-byte hashes")
    out = bytearray([proof.terminal])
    out += other
    out += depth.to_bytes(2, "big")
    bitmap = bytearray((depth + 7) // 8)
    for i, sibling in enumerate(proof.siblings):
        if sibling != EMPTY:
            bitmap[i >> 3] |= 0x80 >> (i & 7)
    out += bitmap
    for sibling in proof.siblings:
        if sibling != EMPTY:
            out += sibling
    return bytes(out)


def decode(data: bytes) -> Proof:
    """Strict: any input either decodes to the one proof that encodes to it, or raises ProofError."""
    if not isinstance(data, (bytes, bytearray)):
        raise ProofError("a proof must be bytes")
    data = bytes(data)
    if not 3 <= len(data) <= MAX_PROOF_BYTES:
        raise ProofError(f"proof is {len(data)} bytes; it must be 3..{MAX_PROOF_BYTES}")
    terminal, pos = data[0], 1
    if terminal not in (LEAF_OF_KEY, EMPTY_SUBTREE, OTHER_LEAF):
        raise ProofError(f"unknown proof terminal {terminal}")
    other_key_hash = other_value_hash = b""
    if terminal == OTHER_LEAF:
        if len(data) < pos + 2 * HASH_LEN + 2:
            raise ProofError("proof truncated in the other leaf")
        other_key_hash, other_value_hash = data[pos:pos + HASH_LEN], data[pos + HASH_LEN:pos + 2 * HASH_LEN]
        pos += 2 * HASH_LEN
    if len(data) < pos + 2:
        raise ProofError("proof truncated before its depth")
    depth = int.from_bytes(data[pos:pos + 2], "big")
    pos += 2
    if depth > MAX_DEPTH:
        raise ProofError(f"proof depth {depth} exceeds {MAX_DEPTH}")
    bitmap = data[pos:pos + (depth + 7) // 8]
    pos += (depth + 7) // 8
    if len(bitmap) != (depth + 7) // 8:
        raise ProofError("proof truncated in its bitmap")
    present = [bool(bitmap[i >> 3] & (0x80 >> (i & 7))) for i in range(depth)]
    if depth % 8 and bitmap[-1] & (0xFF >> (depth % 8)):
        raise ProofError("proof bitmap has bits set past its depth")
    if len(data) - pos != HASH_LEN * sum(present):
        raise ProofError(f"proof has {len(data) - pos} sibling bytes; its bitmap calls for "
                         f"{HASH_LEN * sum(present)}")
    siblings = []
    for is_present in present:
        if is_present:
            sibling = data[pos:pos + HASH_LEN]
            pos += HASH_LEN
            if sibling == EMPTY:
                raise ProofError("an empty sibling must be left out of the proof, not spelled as zeros")
            siblings.append(sibling)
        else:
            siblings.append(EMPTY)
    return Proof(terminal, tuple(siblings), other_key_hash, other_value_hash)


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: bytes) -> None:
    """Raise ProofError unless `proof` shows that, under `root`, `key` holds `value`.

    `value=None` asks for a proof that the key is absent.
    """
    if len(root) != HASH_LEN:
        raise ProofError(f"a root is {HASH_LEN} bytes, got {len(root)}")
    decoded = decode(proof)
    k_hash = key_hash(key)
    depth = len(decoded.siblings)
    if value is not None:
        if decoded.terminal != LEAF_OF_KEY:
            raise ProofError("the proof shows the key absent, not holding the claimed value")
        node = leaf_hash(k_hash, value_hash(value))
    elif decoded.terminal == LEAF_OF_KEY:
        raise ProofError("the proof shows the key present; it cannot prove absence")
    elif decoded.terminal == EMPTY_SUBTREE:
        node = EMPTY
    else:
        other = decoded.other_key_hash
        # The other leaf proves absence only if it sits on the key's own path, so the key, were it
        # present, would share its subtree (and the subtree would not be a single leaf).
        if other == k_hash:
            raise ProofError("the proof's other leaf is the key itself")
        if any(bit(other, i) != bit(k_hash, i) for i in range(depth)):
            raise ProofError("the proof's other leaf is not on the key's path")
        node = leaf_hash(other, decoded.other_value_hash)
    for i in range(depth - 1, -1, -1):
        sibling = decoded.siblings[i]
        node = internal_hash(sibling, node) if bit(k_hash, i) else internal_hash(node, sibling)
    if node != root:
        raise ProofError("the proof does not lead to the given root (wrong value, key, proof or root)")
