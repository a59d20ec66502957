"""The binary sparse Merkle tree behind the app hash. Hashing and proofs are specified in `chain.tx.proof`.

Nodes are content-addressed: a node's hash is SHA-256 of its encoding,
    leaf     = 0x00 || key_hash || value_hash      (65 bytes)
    internal = 0x01 || left_hash || right_hash     (65 bytes)
and the empty subtree (hash = 32 zero bytes) is never stored. The tree only reads nodes through
`get_node(hash)`, and `apply` hands back the nodes it created; storing them is the caller's job.

Old nodes are never deleted, so every historic root stays provable. Pruning unreachable nodes is
future work (it needs reference counts or a per-version index of replaced nodes).
"""
from __future__ import annotations

import hashlib
from bisect import bisect_left, insort
from collections.abc import Callable, Mapping

from chain.tx.proof import (EMPTY, EMPTY_SUBTREE, HASH_LEN, INTERNAL_TAG, LEAF_OF_KEY, LEAF_TAG, MAX_DEPTH,
                            OTHER_LEAF, Proof, bit, encode, key_hash, value_hash)

__all__ = ["SparseMerkleTree", "CorruptStore"]

NODE_LEN = 1 + 2 * HASH_LEN

# (key_hash, value_hash or None for a delete), kept sorted by key_hash
Item = tuple[bytes, bytes | None]


class CorruptStore(RuntimeError):
    """A node the tree needs is missing or does not match its hash. A bug or a damaged disk: stop."""


def _split(items: list[Item], depth: int) -> int:
    """Index of the first item going right at `depth`. Items share the path above `depth` and are
    sorted, so their bits at `depth` run 0...0 1...1."""
    return bisect_left(items, 1, key=lambda item: bit(item[0], depth))


class SparseMerkleTree:
    def __init__(self, get_node: Callable[[bytes], bytes | None]):
        self._get_node = get_node

    def apply(self, root: bytes, changes: Mapping[bytes, bytes | None]) -> tuple[bytes, dict[bytes, bytes]]:
        """Apply {key: value, or None to delete} to the tree at `root`, as one batch.

        Returns the new root and the nodes created, {hash: encoding}. Each node on a changed path is
        read and hashed once, so the cost is O(changed keys x depth), independent of the state size.
        """
        items = sorted((key_hash(k), None if v is None else value_hash(v)) for k, v in changes.items())
        created: dict[bytes, bytes] = {}
        return self._update(root, 0, items, created), created

    def prove(self, root: bytes, key: bytes) -> bytes:
        """The proof (see `chain.tx.proof`) of `key`'s value, or of its absence, under `root`."""
        k_hash = key_hash(key)
        siblings = []
        node_hash = root
        while node_hash != EMPTY:
            node = self._read(node_hash)
            if node[:1] == LEAF_TAG:
                if node[1:1 + HASH_LEN] == k_hash:
                    return encode(Proof(LEAF_OF_KEY, tuple(siblings)))
                return encode(Proof(OTHER_LEAF, tuple(siblings), node[1:1 + HASH_LEN], node[1 + HASH_LEN:]))
            if len(siblings) == MAX_DEPTH:
                raise CorruptStore(f"internal node deeper than {MAX_DEPTH} under root {root.hex()}")
            left, right = node[1:1 + HASH_LEN], node[1 + HASH_LEN:]
            if bit(k_hash, len(siblings)):
                siblings.append(left)
                node_hash = right
            else:
                siblings.append(right)
                node_hash = left
        return encode(Proof(EMPTY_SUBTREE, tuple(siblings)))

    # --- batch update ------------------------------------------------------------------------
    def _update(self, node_hash: bytes, depth: int, items: list[Item], created: dict[bytes, bytes]) -> bytes:
        """The new hash of the subtree at `node_hash` (at `depth`) after applying `items` under it."""
        if not items:
            return node_hash
        if node_hash == EMPTY:
            return self._build(depth, [item for item in items if item[1] is not None], created)
        node = self._read(node_hash)
        if node[:1] == LEAF_TAG:
            # A leaf is the whole subtree: merge it with the changes and rebuild the subtree.
            existing = (node[1:1 + HASH_LEN], node[1 + HASH_LEN:])
            merged = [item for item in items if item[1] is not None]
            if all(k_hash != existing[0] for k_hash, _ in items):
                insort(merged, existing)
            if merged == [existing]:
                return node_hash
            return self._build(depth, merged, created)
        left, right = node[1:1 + HASH_LEN], node[1 + HASH_LEN:]
        split = _split(items, depth)
        new_left = self._update(left, depth + 1, items[:split], created)
        new_right = self._update(right, depth + 1, items[split:], created)
        if new_left == left and new_right == right:
            return node_hash  # e.g. a key set to the value it already had: write nothing
        return self._join(new_left, new_right, created)

    def _build(self, depth: int, items: list[Item], created: dict[bytes, bytes]) -> bytes:
        """A fresh canonical subtree at `depth` holding `items` (sorted, all with values)."""
        if not items:
            return EMPTY
        if len(items) == 1:
            k_hash, v_hash = items[0]
            return self._put(LEAF_TAG + k_hash + v_hash, created)
        split = _split(items, depth)
        left = self._build(depth + 1, items[:split], created)
        right = self._build(depth + 1, items[split:], created)
        return self._put(INTERNAL_TAG + left + right, created)

    def _join(self, left: bytes, right: bytes, created: dict[bytes, bytes]) -> bytes:
        """An internal node over two canonical subtrees, collapsed if only one leaf is left under it.

        Deletions can leave a single leaf at the bottom of a long chain; collapsing here at every level
        on the way back up lifts it to the shallowest depth where it is alone, as canonical shape needs.
        """
        if left == EMPTY and right == EMPTY:
            return EMPTY
        if right == EMPTY and self._is_leaf(left, created):
            return left  # a leaf's hash does not depend on its depth, so it moves up unchanged
        if left == EMPTY and self._is_leaf(right, created):
            return right
        return self._put(INTERNAL_TAG + left + right, created)

    def _is_leaf(self, node_hash: bytes, created: dict[bytes, bytes]) -> bool:
        node = created.get(node_hash)
        if node is None:
            node = self._read(node_hash)
        return node[:1] == LEAF_TAG

    @staticmethod
    def _put(node: bytes, created: dict[bytes, bytes]) -> bytes:
        node_hash = hashlib.sha256(node).digest()
        created[node_hash] = node
        return node_hash

    def _read(self, node_hash: bytes) -> bytes:
        node = self._get_node(node_hash)
        if node is None:
            raise CorruptStore(f"tree node {node_hash.hex()} is missing")
        # Checking the hash costs one SHA-256 of 65 bytes and turns a damaged disk into a clean stop
        # instead of a silently different app hash.
        if (len(node) != NODE_LEN or node[:1] not in (LEAF_TAG, INTERNAL_TAG)
                or hashlib.sha256(node).digest() != node_hash):
            raise CorruptStore(f"tree node {node_hash.hex()} does not match its hash")
        return node
