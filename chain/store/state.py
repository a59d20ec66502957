"""The layers the state machine reads and writes: the committed store and in-memory overlays.

Every database key the chain writes is named here:
    s/ + state key      -> value                 the state itself, for fast reads and range scans
    n/ + node hash      -> node encoding         the Merkle tree (chain.store.smt)
    m/height            -> 8-byte big-endian     last committed height
    m/app_hash          -> 32 bytes              tree root of the last committed state
    v/, c/, r/, m/history_start                  recent heights' values and roots, if the node keeps them
                                                 for historical queries (chain.store.history)

Nothing reaches the backend before `CommittedStore.commit`, which writes a block's state changes, its
new tree nodes, the height and the app hash in one atomic write. A crash before it simply replays the
block. The state values and the tree are thus always in step, so a proof answers for the value read.
"""
from __future__ import annotations

from collections import OrderedDict

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from chain.store.history import History
from chain.store.kv import KVStore, prefix_end
from chain.store.smt import CorruptStore, SparseMerkleTree
from chain.tx.proof import EMPTY, HASH_LEN

__all__ = ["CommittedStore", "Overlay", "PendingCommit"]

STATE = b"s/"
NODE = b"n/"
META_HEIGHT = b"m/height"
META_APP_HASH = b"m/app_hash"

# Successive blocks rewrite and reread the top of the tree; keeping recent nodes in memory spares
# those LevelDB reads. ~200 bytes per entry, so this is ~13 MB at most.
NODE_CACHE_SIZE = 1 << 16


@dataclass(frozen=True)
class PendingCommit:
    """A block's effect, computed but not yet written. Only valid on top of `base_app_hash`."""
    app_hash: bytes
    base_app_hash: bytes
    changes: dict[bytes, bytes | None]  # state key -> value, None = delete
    nodes: dict[bytes, bytes]           # node hash -> node encoding


class CommittedStore:
    """The last committed state, over a KVStore, with its Merkle root as the app hash."""

    def __init__(self, kv: KVStore, history_blocks: int = 0):
        self._kv = kv
        # the last `history_blocks` heights stay readable with proofs (0: latest only)
        self.history = History(kv, history_blocks) if history_blocks > 0 else None
        # OrderedDict, not dict: evicting the oldest entry of a plain dict scans past the deleted
        # slots at its front (tens of microseconds per eviction once the cache is full).
        self._node_cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._tree = SparseMerkleTree(self._get_node)
        raw_height, raw_app_hash = kv.get(META_HEIGHT), kv.get(META_APP_HASH)
        if raw_height is None and raw_app_hash is None:
            self.height, self.app_hash = 0, EMPTY
        elif raw_height is None or raw_app_hash is None or len(raw_height) != 8 or len(raw_app_hash) != HASH_LEN:
            raise CorruptStore("store metadata (height, app hash) is incomplete or malformed")
        else:
            self.height, self.app_hash = int.from_bytes(raw_height, "big"), raw_app_hash

    def get(self, key: bytes) -> bytes | None:
        return self._kv.get(STATE + key)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """State keys in [start, end), ascending; end None means to the last state key."""
        kv_end = prefix_end(STATE) if end is None else STATE + end
        for key, value in self._kv.iterate(STATE + start, kv_end):
            yield key[len(STATE):], value

    def prepare(self, changes: Mapping[bytes, bytes | None]) -> PendingCommit:
        """Compute the app hash the changes lead to. Reads tree nodes; writes nothing."""
        changes = dict(sorted(changes.items()))
        app_hash, nodes = self._tree.apply(self.app_hash, changes)
        return PendingCommit(app_hash=app_hash, base_app_hash=self.app_hash, changes=changes, nodes=nodes)

    def commit(self, pending: PendingCommit, height: int) -> None:
        """Write the block's state, tree nodes, height and app hash in one atomic write."""
        if pending.base_app_hash != self.app_hash:
            raise RuntimeError("pending commit was prepared on a different state than the one committed")
        if height <= self.height:
            raise RuntimeError(f"cannot commit height {height} after height {self.height}")
        puts = {STATE + k: v for k, v in pending.changes.items() if v is not None}
        deletes = [STATE + k for k, v in pending.changes.items() if v is None]
        puts.update((NODE + h, node) for h, node in pending.nodes.items())
        puts[META_HEIGHT] = height.to_bytes(8, "big")
        puts[META_APP_HASH] = pending.app_hash
        if self.history is not None:
            more_puts, more_deletes = self.history.commit_writes(pending.changes, height, pending.app_hash, self.get)
            puts.update(more_puts)
            deletes += more_deletes
        self._kv.write(puts, deletes)
        self.height, self.app_hash = height, pending.app_hash
        for node_hash, node in pending.nodes.items():
            self._remember(node_hash, node)

    def restore(self, items: Iterable[tuple[bytes, bytes]], height: int, app_hash: bytes) -> bool:
        """Fill an empty store with a whole state as of `height` (a state sync snapshot, abci_app/snapshots.py):
        the tree is rebuilt from an empty one over every key, and nothing is written unless its root equals
        `app_hash`. Then state, tree nodes, height and app hash go in one atomic write, as a commit would
        (no history: queries at earlier heights start after this one). False if the root differs."""
        if self.height != 0 or self.app_hash != EMPTY or next(iter(self.iterate(b"", None)), None) is not None:
            raise RuntimeError("restore needs an empty store")
        if height <= 0:
            raise ValueError(f"cannot restore at height {height}")
        changes = dict(items)
        if any(type(k) is not bytes or type(v) is not bytes for k, v in changes.items()):
            raise TypeError("restored keys and values must be bytes")
        pending = self.prepare(changes)
        if pending.app_hash != app_hash:
            return False
        puts = {STATE + k: v for k, v in pending.changes.items()}
        puts.update((NODE + h, node) for h, node in pending.nodes.items())
        puts[META_HEIGHT] = height.to_bytes(8, "big")
        puts[META_APP_HASH] = pending.app_hash
        self._kv.write(puts, [])
        self.height, self.app_hash = height, pending.app_hash
        return True

    def prove(self, key: bytes) -> tuple[bytes | None, bytes]:
        """The value at the last committed height and its proof (inclusion, or absence if None)."""
        return self.get(key), self._tree.prove(self.app_hash, key)

    # --- earlier heights (chain.store.history) ------------------------------------------------
    def oldest_height(self) -> int:
        """The oldest height whose state this store can still read (the latest if it keeps no history)."""
        return self.history.oldest(self.height) if self.history is not None else self.height

    def at(self, height: int) -> "HistoricalView":
        """A read-only view of the state after block `height`, oldest_height() <= height <= height."""
        if not self.oldest_height() <= height <= self.height:
            raise ValueError(f"height {height} is outside [{self.oldest_height()}, {self.height}]")
        return HistoricalView(self, height)

    def _get_node(self, node_hash: bytes) -> bytes | None:
        node = self._node_cache.get(node_hash)
        if node is not None:
            self._node_cache.move_to_end(node_hash)  # LRU: the tree's upper levels stay cached
            return node
        node = self._kv.get(NODE + node_hash)
        if node is not None:
            self._remember(node_hash, node)
        return node

    def _remember(self, node_hash: bytes, node: bytes) -> None:
        if node_hash not in self._node_cache and len(self._node_cache) >= NODE_CACHE_SIZE:
            self._node_cache.popitem(last=False)  # oldest insertion first
        self._node_cache[node_hash] = node


class HistoricalView:
    """The committed state as it was after an earlier block: reads, range scans and proofs against that
    block's app hash. For queries only; it cannot be written."""

    def __init__(self, store: CommittedStore, height: int):
        self._store, self.height = store, height
        self.app_hash = store.app_hash if height == store.height else store.history.root(height)
        if self.app_hash is None:
            raise CorruptStore(f"no root recorded for height {height}")

    def get(self, key: bytes) -> bytes | None:
        if self.height == self._store.height:
            return self._store.get(key)
        return self._store.history.get(key, self.height, self._store.get)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        if self.height == self._store.height:
            return self._store.iterate(start, end)
        return self._store.history.iterate(start, end, self.height, self._store.iterate, self._store.get)

    def prove(self, key: bytes) -> tuple[bytes | None, bytes]:
        return self.get(key), self._store._tree.prove(self.app_hash, key)


class Overlay:
    """A write buffer over a parent (a CommittedStore or another Overlay).

    Reads see the buffer first, then the parent. Nothing reaches the parent until `write_to_parent`;
    dropping an overlay discards its writes, which is how a failed transaction leaves nothing behind.
    """

    def __init__(self, parent: CommittedStore | Overlay):
        self._parent = parent
        self._writes: dict[bytes, bytes | None] = {}  # None = deleted
        self._keys: list[bytes] = []                  # sorted keys of _writes, for range merges

    def get(self, key: bytes) -> bytes | None:
        layer = self
        while type(layer) is Overlay:   # a tx's branch reads through 3-4 layers: a loop, not a call each
            writes = layer._writes
            if key in writes:
                return writes[key]
            layer = layer._parent
        return layer.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        if type(value) is not bytes:
            raise TypeError(f"state values must be bytes, got {type(value).__name__} (use delete to remove)")
        self._write(key, value)

    def delete(self, key: bytes) -> None:
        self._write(key, None)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Keys in [start, end), ascending: own writes over the parent's view, deleted keys hidden."""
        lo = bisect_left(self._keys, start)
        hi = len(self._keys) if end is None else bisect_left(self._keys, end)
        own = [(k, self._writes[k]) for k in self._keys[lo:hi]]  # copied: safe if the caller writes
        i = 0
        for key, value in self._parent.iterate(start, end):
            while i < len(own) and own[i][0] < key:
                if own[i][1] is not None:
                    yield own[i]
                i += 1
            if i < len(own) and own[i][0] == key:
                if own[i][1] is not None:
                    yield own[i]
                i += 1
                continue
            yield key, value
        for item in own[i:]:
            if item[1] is not None:
                yield item

    def branch(self) -> Overlay:
        return Overlay(self)

    def write_to_parent(self) -> None:
        """Apply the buffered writes to the parent Overlay and empty this buffer."""
        if not isinstance(self._parent, Overlay):
            raise TypeError("only an Overlay's branch can write to its parent; commit via CommittedStore")
        for key in self._keys:
            self._parent._write(key, self._writes[key])
        self._writes, self._keys = {}, []

    def changes(self) -> dict[bytes, bytes | None]:
        """The buffered writes in key order (None = delete), for CommittedStore.prepare."""
        return {key: self._writes[key] for key in self._keys}

    def _write(self, key: bytes, value: bytes | None) -> None:
        if type(key) is not bytes:
            raise TypeError(f"state keys must be bytes, got {type(key).__name__}")
        if key not in self._writes:
            insort(self._keys, key)
        self._writes[key] = value
