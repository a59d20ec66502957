"""The binary sparse Merkle tree behind the app hash. Hashing and proofs are specified in `chain.tx.proof`.

A node's hash is SHA-256 of its encoding,
    leaf     = 0x00 || key_hash || value_hash      (65 bytes)
    internal = 0x01 || left_hash || right_hash     (65 bytes)
and the empty subtree (hash = 32 zero bytes) is never stored.

Storage (how nodes are kept, not how they hash): a node is stored under its position in the tree and the
version that wrote it, jellyfish-style,
    node key = path code ‖ version (8 bytes, big-endian)
    path code = the node's first `depth` bits (shared by every key hash beneath it), a 1 bit, then 0 bits
                up to a byte boundary: depth // 8 + 1 bytes, so the depth is where the last 1 bit is
    stored   = the leaf encoding, or the internal encoding ‖ left child's version (8) ‖ right child's (8)
so a parent names each child by hash (in its encoding) and by version (beside it): the tree reads a child
by key and checks it against the hash its parent holds. The keys of a subtree share its path's leading
bytes, so the nodes under one path sit together in LevelDB blocks (locality), where hash keys scattered
them over the whole database; and keys are short (11 bytes for a node at depth 16 to 23). A path code may
be a byte prefix of a deeper one, but with the 8 version bytes after it no two nodes share a key (keys of
one length have codes of one length, and a code gives back its path and depth). A version is written once
and never overwritten: `apply` writes the changed paths as new nodes at the new version and reports the
keys of the nodes it replaced (stale from that version on). A node is reachable from the roots of the
versions from its own up to the one that made it stale, and from no other: an identical subtree appearing
again is a new node under a new key, so deleting a stale node can never break a later root
(`chain.store.state` deletes them once no kept root is that old).

A root is a `Ref`, (hash, version); the empty tree is (EMPTY, 0).
"""
from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left, insort
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chain.tx.proof import (EMPTY, EMPTY_SUBTREE, HASH_LEN, INTERNAL_TAG, LEAF_OF_KEY, LEAF_TAG, MAX_DEPTH,
                            OTHER_LEAF, Proof, bit, encode, key_hash, value_hash)

__all__ = ["SparseMerkleTree", "CorruptStore", "Ref", "EMPTY_REF", "TreeUpdate", "node_key", "MAX_KEY_LEN"]

NODE_LEN = 1 + 2 * HASH_LEN
INTERNAL_STORED_LEN = NODE_LEN + 16
MAX_KEY_LEN = HASH_LEN + 1 + 8
MAX_VERSION = (1 << 64) - 1

Ref = tuple[bytes, int]   # (node hash, version that wrote it)
EMPTY_REF: Ref = (EMPTY, 0)

# (key_hash, value_hash or None for a delete), kept sorted by key_hash
Item = tuple[bytes, bytes | None]

_VERSIONS = struct.Struct(">QQ")
# _LAST_BYTE[rest][b]: the last byte of a path code whose final partial byte of key hash is b, keeping
# its top `rest` bits and marking the end with a 1 bit
_LAST_BYTE = [[bytes(((b & (0xFF00 >> rest) & 0xFF) | (0x80 >> rest),)) for b in range(256)] for rest in range(8)]


class CorruptStore(RuntimeError):
    """A node the tree needs is missing or does not match its hash. A bug or a damaged disk: stop."""


def node_key(k_hash: bytes, depth: int, version: int) -> bytes:
    """The storage key of the node at `depth` on the path of `k_hash`, written at `version`."""
    full = depth >> 3
    if full == HASH_LEN:
        return k_hash + b"\x80" + version.to_bytes(8, "big")
    return k_hash[:full] + _LAST_BYTE[depth & 7][k_hash[full]] + version.to_bytes(8, "big")


def _with_bit(k_hash: bytes, depth: int, side: int) -> bytes:
    """`k_hash` with bit `depth` set to `side`: a path into that child of the node at `depth`."""
    i, mask = depth >> 3, 0x80 >> (depth & 7)
    byte = k_hash[i] | mask if side else k_hash[i] & ~mask & 0xFF
    return k_hash[:i] + bytes((byte,)) + k_hash[i + 1:]


def _split(items: list[Item], depth: int) -> int:
    """Index of the first item going right at `depth`. Items share the path above `depth` and are
    sorted, so their bits at `depth` run 0...0 1...1."""
    return bisect_left(items, 1, key=lambda item: bit(item[0], depth))


@dataclass
class TreeUpdate:
    """What one `apply` did: the new root, the nodes it wrote {node key: stored bytes}, and the keys of the
    committed nodes it replaced (no longer reachable from the new root)."""
    root: Ref
    nodes: dict[bytes, bytes] = field(default_factory=dict)
    stale: list[bytes] = field(default_factory=list)


class SparseMerkleTree:
    def __init__(self, get_node: Callable[[bytes], bytes | None]):
        self._get_node = get_node   # node key -> stored bytes, None if absent

    def apply(self, root: Ref, changes: Mapping[bytes, bytes | None], version: int) -> TreeUpdate:
        """Apply {key: value, or None to delete} to the tree at `root`, as one batch writing `version`,
        which must be above every version already stored.

        Each node on a changed path is read and hashed once, so the cost is O(changed keys x depth),
        independent of the state size. Nothing is written: the caller stores `nodes` and retires `stale`.
        """
        if not root[1] < version <= MAX_VERSION:
            raise ValueError(f"version {version} must be above the root's ({root[1]}) and fit 8 bytes")
        items = sorted((key_hash(k), None if v is None else value_hash(v)) for k, v in changes.items())
        update = TreeUpdate(EMPTY_REF)
        update.root = self._update(root, 0, items, version, update)
        return update

    def prove(self, root: Ref, key: bytes) -> bytes:
        """The proof (see `chain.tx.proof`) of `key`'s value, or of its absence, under `root`."""
        k_hash = key_hash(key)
        siblings = []
        ref = root
        while ref[0] != EMPTY:
            depth = len(siblings)
            node, left_version, right_version = self._read(ref, k_hash, depth)
            if node[:1] == LEAF_TAG:
                if node[1:1 + HASH_LEN] == k_hash:
                    return encode(Proof(LEAF_OF_KEY, tuple(siblings)))
                return encode(Proof(OTHER_LEAF, tuple(siblings), node[1:1 + HASH_LEN], node[1 + HASH_LEN:]))
            if depth == MAX_DEPTH:
                raise CorruptStore(f"internal node deeper than {MAX_DEPTH} under root {root[0].hex()}")
            left, right = node[1:1 + HASH_LEN], node[1 + HASH_LEN:]
            if bit(k_hash, depth):
                siblings.append(left)
                ref = (right, right_version)
            else:
                siblings.append(right)
                ref = (left, left_version)
        return encode(Proof(EMPTY_SUBTREE, tuple(siblings)))

    # --- batch update ------------------------------------------------------------------------
    def _update(self, ref: Ref, depth: int, items: list[Item], version: int, update: TreeUpdate) -> Ref:
        """The new ref of the committed subtree `ref` (at `depth`) after applying `items` under it."""
        if not items:
            return ref
        if ref[0] == EMPTY:
            return self._build(depth, [item for item in items if item[1] is not None], version, update)
        path = items[0][0]
        key = node_key(path, depth, ref[1])
        node, left_version, right_version = self._read_key(ref, key)
        if node[:1] == LEAF_TAG:
            # A leaf is the whole subtree: merge it with the changes and rebuild the subtree.
            existing = (node[1:1 + HASH_LEN], node[1 + HASH_LEN:])
            merged = [item for item in items if item[1] is not None]
            if all(k_hash != existing[0] for k_hash, _ in items):
                insort(merged, existing)
            if merged == [existing]:
                return ref
            update.stale.append(key)
            return self._build(depth, merged, version, update)
        left, right = (node[1:1 + HASH_LEN], left_version), (node[1 + HASH_LEN:], right_version)
        split = _split(items, depth)
        new_left = self._update(left, depth + 1, items[:split], version, update)
        new_right = self._update(right, depth + 1, items[split:], version, update)
        if new_left == left and new_right == right:
            return ref  # e.g. a key set to the value it already had: write nothing
        update.stale.append(key)
        return self._join(depth, path, new_left, new_right, version, update)

    def _build(self, depth: int, items: list[Item], version: int, update: TreeUpdate) -> Ref:
        """A fresh canonical subtree at `depth` holding `items` (sorted, all with values)."""
        if not items:
            return EMPTY_REF
        if len(items) == 1:
            k_hash, v_hash = items[0]
            return self._put(node_key(k_hash, depth, version), LEAF_TAG + k_hash + v_hash, b"", version, update)
        split = _split(items, depth)
        left = self._build(depth + 1, items[:split], version, update)
        right = self._build(depth + 1, items[split:], version, update)
        return self._put(node_key(items[0][0], depth, version), INTERNAL_TAG + left[0] + right[0],
                         _VERSIONS.pack(left[1], right[1]), version, update)

    def _join(self, depth: int, path: bytes, left: Ref, right: Ref, version: int, update: TreeUpdate) -> Ref:
        """An internal node at `depth` on `path` over two canonical subtrees, collapsed if only one leaf
        is left under it.

        Deletions can leave a single leaf at the bottom of a long chain; collapsing here at every level
        on the way back up lifts it to the shallowest depth where it is alone, as canonical shape needs.
        A leaf's hash does not depend on its depth, but its position does: the lifted leaf is stored
        again one level up, and its lower copy is dropped (written in this batch) or made stale.
        """
        if left[0] == EMPTY and right[0] == EMPTY:
            return EMPTY_REF
        for alone, other, side in ((left, right, 0), (right, left, 1)):
            if other[0] == EMPTY:
                child_key = node_key(_with_bit(path, depth, side), depth + 1, alone[1])
                node = self._child(alone, child_key, version, update)
                if node[:1] == LEAF_TAG:
                    if alone[1] == version:
                        del update.nodes[child_key]
                    else:
                        update.stale.append(child_key)
                    return self._put(node_key(node[1:1 + HASH_LEN], depth, version), node, b"", version, update)
        return self._put(node_key(path, depth, version), INTERNAL_TAG + left[0] + right[0],
                         _VERSIONS.pack(left[1], right[1]), version, update)

    def _child(self, ref: Ref, key: bytes, version: int, update: TreeUpdate) -> bytes:
        """The encoding of a child, written in this batch or committed."""
        if ref[1] == version:
            return update.nodes[key][:NODE_LEN]
        return self._read_key(ref, key)[0]

    @staticmethod
    def _put(key: bytes, node: bytes, versions: bytes, version: int, update: TreeUpdate) -> Ref:
        update.nodes[key] = node + versions
        return hashlib.sha256(node).digest(), version

    def _read(self, ref: Ref, path: bytes, depth: int) -> tuple[bytes, int, int]:
        return self._read_key(ref, node_key(path, depth, ref[1]))

    def _read_key(self, ref: Ref, key: bytes) -> tuple[bytes, int, int]:
        """(encoding, left child's version, right child's version) of the committed node `ref` at `key`."""
        stored = self._get_node(key)
        if stored is None:
            raise CorruptStore(f"tree node {ref[0].hex()} (version {ref[1]}) is missing")
        node = stored[:NODE_LEN]
        # Checking the hash costs one SHA-256 of 65 bytes and turns a damaged disk into a clean stop
        # instead of a silently different app hash.
        tag = node[:1]
        if not ((tag == LEAF_TAG and len(stored) == NODE_LEN)
                or (tag == INTERNAL_TAG and len(stored) == INTERNAL_STORED_LEN)) \
                or hashlib.sha256(node).digest() != ref[0]:
            raise CorruptStore(f"tree node {ref[0].hex()} (version {ref[1]}) does not match its hash")
        if tag == LEAF_TAG:
            return node, 0, 0
        left_version, right_version = _VERSIONS.unpack_from(stored, NODE_LEN)
        return node, left_version, right_version
