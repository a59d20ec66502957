"""The layers the state machine reads and writes: the committed store and in-memory overlays.

Every database key the chain writes is named here:
    s/ + state key      -> value                 the state itself, for fast reads and range scans
    t/ + node key       -> stored node           the Merkle tree, nodes keyed by path and version
                                                 (chain.store.smt: path code ‖ version (8))
    o/ + height (8)     -> node keys, each after its length (1 byte): the tree nodes block `height`
                                                 replaced ("stale"); deleted, with the nodes, once no
                                                 kept root is older than `height`
    m/height            -> 8-byte big-endian     last committed height
    m/app_hash          -> 32 bytes              tree root of the last committed state
    m/root_version      -> 8-byte big-endian     the version of that root's node (0 for the empty tree)
    m/tree_layout       -> b"2"                  how tree nodes are keyed (absent: layout 1, below)
    m/tree_oldest       -> 8-byte big-endian     the tree holds every root from this height on
    v/, c/, r/, m/history_start                  recent heights' values and roots, if the node keeps them
                                                 for historical queries (chain.store.history)

Nothing reaches the backend before `CommittedStore.commit`, which writes a block's state changes, its
new tree nodes, the deletion of the nodes no kept root reaches any more, the height and the app hash in one
atomic write. A crash before it simply replays the block. The state values and the tree are thus always in
step, so a proof answers for the value read.

Pruning. The tree keeps the roots of the heights the node keeps for queries (`history_blocks`, the
operator's `query_retention_blocks`; 0 keeps only the latest). A node made stale by block h is reachable
from the roots of heights below h only, so it is deleted by the first commit after which the oldest kept
height is h or more. Nodes are never shared between positions or versions (chain.store.smt), so this
needs no reference counts.

Layout 1 (before issue 15) keyed nodes by hash under n/ and never deleted one. Opening such a database
migrates it once: the tree is rebuilt from the state values, checked against the stored app hash, and
written with the n/ nodes' deletion in one atomic write; heights before the migration are no longer
provable. A layout this code does not know is refused (StoreLayoutError), never guessed at.
"""
from __future__ import annotations

from collections import OrderedDict

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from chain.store.history import History
from chain.store.kv import KVStore, prefix_end
from chain.store.smt import EMPTY_REF, MAX_KEY_LEN, CorruptStore, Ref, SparseMerkleTree
from chain.tx.proof import EMPTY, HASH_LEN

__all__ = ["CommittedStore", "Overlay", "PendingCommit", "StoreLayoutError"]

STATE = b"s/"
NODE = b"t/"
STALE = b"o/"
LEGACY_NODE = b"n/"
META_HEIGHT = b"m/height"
META_APP_HASH = b"m/app_hash"
META_ROOT_VERSION = b"m/root_version"
META_LAYOUT = b"m/tree_layout"
META_TREE_OLDEST = b"m/tree_oldest"
LAYOUT = b"2"

# Node cache. Every block rereads the top of the tree, and a node at depth d is on the path of one key
# in 2^d: the nodes of the current tree down to PINNED_DEPTH stay in memory for good (at most
# 2^(PINNED_DEPTH + 1) of them, ~220 bytes each: ~14 MB at 15, reached from ~2^15 keys on; 17 cut disk
# reads at 10^6 keys by a third for ~58 MB, BENCHMARKS.md). Deeper nodes go through an LRU of
# NODE_CACHE_SIZE entries (~14 MB). Replaced nodes leave both at once (historical queries read them from
# disk).
PINNED_DEPTH = 15
NODE_CACHE_SIZE = 1 << 16


def _is_pinned(key: bytes) -> bool:
    """Whether a node key's depth (chain.store.smt: 8 x (its length - 9) + the place of the path code's
    end bit in its last byte) is at most PINNED_DEPTH."""
    full = len(key) - 9
    if full * 8 > PINNED_DEPTH:
        return False
    last = key[full]
    return full * 8 + 8 - (last & -last).bit_length() <= PINNED_DEPTH


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


class StoreLayoutError(RuntimeError):
    """The database was written in a tree layout this version does not read. Nothing was changed."""


@dataclass(frozen=True)
class PendingCommit:
    """A block's effect, computed but not yet written. Only valid on top of `base_app_hash`."""
    app_hash: bytes
    base_app_hash: bytes
    changes: dict[bytes, bytes | None]  # state key -> value, None = delete
    nodes: dict[bytes, bytes]           # node key -> stored node, all written at `root`'s version or below
    root: Ref
    stale: tuple[bytes, ...]            # keys of the committed nodes this block replaces
    base_root: Ref = EMPTY_REF          # the root it was prepared on (the same hash can recur at a later version)


class CommittedStore:
    """The last committed state, over a KVStore, with its Merkle root as the app hash."""

    def __init__(self, kv: KVStore, history_blocks: int = 0):
        self._kv = kv
        # the last `history_blocks` heights stay readable with proofs (0: latest only); the tree keeps
        # exactly their roots
        self.history = History(kv, history_blocks) if history_blocks > 0 else None
        # OrderedDict, not dict: evicting the oldest entry of a plain dict scans past the deleted
        # slots at its front (tens of microseconds per eviction once the cache is full).
        self._node_cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._pinned: dict[bytes, bytes] = {}
        self._tree = SparseMerkleTree(self._get_node)
        raw_height, raw_app_hash = kv.get(META_HEIGHT), kv.get(META_APP_HASH)
        if raw_height is None and raw_app_hash is None:
            self.height, self.app_hash = 0, EMPTY
        elif raw_height is None or raw_app_hash is None or len(raw_height) != 8 or len(raw_app_hash) != HASH_LEN:
            raise CorruptStore("store metadata (height, app hash) is incomplete or malformed")
        else:
            self.height, self.app_hash = int.from_bytes(raw_height, "big"), raw_app_hash
        layout = kv.get(META_LAYOUT)
        self._layout_written = layout is not None
        if layout is None and (raw_height is not None or self._any(LEGACY_NODE)):
            self._migrate_layout_1()
        elif layout is not None and layout != LAYOUT:
            raise StoreLayoutError(
                f"the state database uses tree layout {layout!r}, but this gradchain reads layout {LAYOUT!r} "
                "(written by a newer version?): run the gradchain version that wrote it, or start this node "
                "afresh from state sync or genesis")
        raw_version, raw_oldest = kv.get(META_ROOT_VERSION), kv.get(META_TREE_OLDEST)
        if self.app_hash != EMPTY and (raw_version is None or len(raw_version) != 8):
            raise CorruptStore("store metadata: the root node's version is missing or malformed")
        self.root: Ref = (self.app_hash, int.from_bytes(raw_version, "big") if self.app_hash != EMPTY else 0)
        self._tree_oldest = int.from_bytes(raw_oldest, "big") if raw_oldest is not None else 0

    def get(self, key: bytes) -> bytes | None:
        return self._kv.get(STATE + key)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """State keys in [start, end), ascending; end None means to the last state key."""
        kv_end = prefix_end(STATE) if end is None else STATE + end
        for key, value in self._kv.iterate(STATE + start, kv_end):
            yield key[len(STATE):], value

    def prepare(self, changes: Mapping[bytes, bytes | None]) -> PendingCommit:
        """Compute the app hash the changes lead to. Reads tree nodes; writes nothing.

        New nodes get version height + 1: above every stored one, whatever height this is committed at."""
        return self._prepare(changes, self.height + 1)

    def _prepare(self, changes: Mapping[bytes, bytes | None], version: int) -> PendingCommit:
        changes = dict(sorted(changes.items()))
        update = self._tree.apply(self.root, changes, version)
        return PendingCommit(app_hash=update.root[0], base_app_hash=self.app_hash, changes=changes,
                             nodes=update.nodes, root=update.root, stale=tuple(update.stale), base_root=self.root)

    def commit(self, pending: PendingCommit, height: int) -> None:
        """Write the block's state, tree nodes, height and app hash, and prune what no kept root reaches,
        in one atomic write."""
        if pending.base_app_hash != self.app_hash or pending.base_root != self.root:
            raise RuntimeError("pending commit was prepared on a different state than the one committed")
        if height <= self.height:
            raise RuntimeError(f"cannot commit height {height} after height {self.height}")
        puts = {STATE + k: v for k, v in pending.changes.items() if v is not None}
        deletes = [STATE + k for k, v in pending.changes.items() if v is None]
        puts.update((NODE + key, node) for key, node in pending.nodes.items())
        self._put_meta(puts, height, pending.root)
        if self.history is not None:
            more_puts, more_deletes = self.history.commit_writes(pending.changes, height, pending.root, self.get)
            puts.update(more_puts)
            deletes += more_deletes
            oldest = self.history.oldest(height)
        else:
            oldest = height
        pruned = self._prune_writes(pending.stale, height, oldest, puts, deletes)
        self._kv.write(puts, deletes)
        self.height, self.app_hash, self.root = height, pending.app_hash, pending.root
        self._tree_oldest = max(self._tree_oldest, oldest)
        self._layout_written = True
        for key in pending.stale:
            self._forget(key)
        for key in pruned:   # forgotten when made stale, unless a historical query read one back since
            if _is_pinned(key):
                self._pinned.pop(key, None)
        for key, node in pending.nodes.items():
            self._remember(key, node)

    def _put_meta(self, puts: dict[bytes, bytes], height: int, root: Ref) -> None:
        puts[META_HEIGHT] = _u64(height)
        puts[META_APP_HASH] = root[0]
        puts[META_ROOT_VERSION] = _u64(root[1])
        if not self._layout_written:
            puts[META_LAYOUT] = LAYOUT

    def _prune_writes(self, stale: tuple[bytes, ...], height: int, oldest: int, puts: dict[bytes, bytes],
                      deletes: list[bytes]) -> list[bytes]:
        """Add to a commit's write: this block's stale nodes (deleted now if no kept root is below
        `height`, else recorded under o/ + height), and the deletion of the nodes made stale at heights
        up to `oldest`, the oldest height kept after it. Returns the node keys deleted."""
        pruned = []
        if height <= oldest:
            pruned += stale
        elif stale:
            puts[STALE + _u64(height)] = b"".join(bytes((len(key),)) + key for key in stale)
        if oldest > self._tree_oldest:
            # every record below _tree_oldest + 1 went in earlier commits
            for record, keys in self._kv.iterate(STALE + _u64(self._tree_oldest + 1), STALE + _u64(oldest + 1)):
                deletes.append(record)
                at = 0
                while at < len(keys):
                    size = keys[at]
                    if not 9 <= size <= MAX_KEY_LEN or at + 1 + size > len(keys):
                        raise CorruptStore(f"stale-node record {record.hex()} is not a list of node keys")
                    pruned.append(keys[at + 1:at + 1 + size])
                    at += 1 + size
            puts[META_TREE_OLDEST] = _u64(oldest)
        deletes += [NODE + key for key in pruned]
        return pruned

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
        pending = self._prepare(changes, height)
        if pending.app_hash != app_hash:
            return False
        puts = {STATE + k: v for k, v in pending.changes.items()}
        puts.update((NODE + key, node) for key, node in pending.nodes.items())
        self._put_meta(puts, height, pending.root)
        puts[META_TREE_OLDEST] = _u64(height)
        self._kv.write(puts, [])
        self.height, self.app_hash, self.root, self._tree_oldest = height, pending.app_hash, pending.root, height
        self._layout_written = True
        return True

    def _migrate_layout_1(self) -> None:
        """Re-key a layout-1 database (nodes under n/ + hash): rebuild the tree from the state values at
        the committed height, check its root is the stored app hash, and swap the node sets in one write."""
        version = max(self.height, 1)
        update = self._tree.apply(EMPTY_REF, dict(self.iterate(b"", None)), version)
        if update.root[0] != self.app_hash:
            raise CorruptStore(f"migrating the tree to layout {LAYOUT!r}: the state values give root "
                               f"{update.root[0].hex()}, not the stored app hash {self.app_hash.hex()}")
        puts = {NODE + key: node for key, node in update.nodes.items()}
        self._put_meta(puts, self.height, update.root)
        puts[META_TREE_OLDEST] = _u64(self.height)
        deletes = [key for key, _ in self._kv.iterate(LEGACY_NODE, prefix_end(LEGACY_NODE))]
        self._kv.write(puts, deletes)
        self._layout_written = True

    def _any(self, prefix: bytes) -> bool:
        return next(iter(self._kv.iterate(prefix, prefix_end(prefix))), None) is not None

    def prove(self, key: bytes) -> tuple[bytes | None, bytes]:
        """The value at the last committed height and its proof (inclusion, or absence if None)."""
        return self.get(key), self._tree.prove(self.root, key)

    # --- earlier heights (chain.store.history) ------------------------------------------------
    def oldest_height(self) -> int:
        """The oldest height whose state this store can still read and prove (the latest if it keeps no
        history)."""
        if self.history is None:
            return self.height
        return min(self.height, max(self.history.oldest(self.height), self._tree_oldest))

    def at(self, height: int) -> "HistoricalView":
        """A read-only view of the state after block `height`, oldest_height() <= height <= height."""
        if not self.oldest_height() <= height <= self.height:
            raise ValueError(f"height {height} is outside [{self.oldest_height()}, {self.height}]")
        return HistoricalView(self, height)

    def _get_node(self, key: bytes) -> bytes | None:
        node = self._pinned.get(key)
        if node is not None:
            return node
        node = self._node_cache.get(key)
        if node is not None:
            self._node_cache.move_to_end(key)  # LRU
            return node
        node = self._kv.get(NODE + key)
        if node is not None:
            self._remember(key, node)
        return node

    def _remember(self, key: bytes, node: bytes) -> None:
        if _is_pinned(key):
            self._pinned[key] = node
            return
        if key not in self._node_cache and len(self._node_cache) >= NODE_CACHE_SIZE:
            self._node_cache.popitem(last=False)  # oldest insertion first
        self._node_cache[key] = node

    def _forget(self, key: bytes) -> None:
        if self._pinned.pop(key, None) is None:
            self._node_cache.pop(key, None)


class HistoricalView:
    """The committed state as it was after an earlier block: reads, range scans and proofs against that
    block's app hash. For queries only; it cannot be written."""

    def __init__(self, store: CommittedStore, height: int):
        self._store, self.height = store, height
        self.root = store.root if height == store.height else store.history.root(height)
        if self.root is None:
            raise CorruptStore(f"no root recorded for height {height}")
        self.app_hash = self.root[0]

    def get(self, key: bytes) -> bytes | None:
        if self.height == self._store.height:
            return self._store.get(key)
        return self._store.history.get(key, self.height, self._store.get)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        if self.height == self._store.height:
            return self._store.iterate(start, end)
        return self._store.history.iterate(start, end, self.height, self._store.iterate, self._store.get)

    def prove(self, key: bytes) -> tuple[bytes | None, bytes]:
        return self.get(key), self._store._tree.prove(self.root, key)


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
