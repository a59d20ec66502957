"""Historical state for queries at earlier heights (docs/state.md "Historical queries"). Not consensus:
an operator setting (`query_retention_blocks`) chooses how many recent heights a node keeps; nothing
here changes the app hash.

Database keys, written in the same atomic batch as the block they describe:
    v/ + state key + height (8)  -> 0x01 ‖ value, or 0x00 for a delete: the key's value from that height on
    c/ + height (8)              -> the state keys that block changed (length-prefixed), for pruning
    r/ + height (8)              -> the tree root after that height: app hash (32) ‖ root node's version (8)
    m/history_start              -> the first height committed with history on

A key's first change after history began also records the value it had before (at history_start - 1),
so a read at any kept height finds the latest version at or below it. The tree keeps every node a kept
root reaches (chain/store/state.py prunes the rest), so any kept root still proves. Pruning, at the commit of height h with R kept
heights: the oldest kept height is m = h - R + 1; for each key changed at m, its versions below m are
deleted (the version at m answers for every kept height from m); c/ and r/ entries below m go too.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from chain.store.kv import KVStore, prefix_end

VERSION = b"v/"
CHANGED = b"c/"
ROOT = b"r/"
META_HISTORY_START = b"m/history_start"
_ALIVE, _DELETED = b"\x01", b"\x00"


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _pack(keys) -> bytes:
    return b"".join(len(k).to_bytes(4, "big") + k for k in keys)


def _unpack(raw: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(raw):
        n = int.from_bytes(raw[at:at + 4], "big")
        out.append(raw[at + 4:at + 4 + n])
        at += 4 + n
    return out


class History:
    def __init__(self, kv: KVStore, retention: int):
        self._kv, self.retention = kv, retention
        raw = kv.get(META_HISTORY_START)
        self.start = int.from_bytes(raw, "big") if raw is not None else None

    def oldest(self, latest: int) -> int:
        """The oldest height whose state can be read."""
        start = self.start if self.start is not None else latest
        return max(start, latest - self.retention + 1, 0)

    def _versions(self, key: bytes, below: int) -> list[tuple[int, bytes]]:
        prefix = VERSION + key
        out = []
        for k, v in self._kv.iterate(prefix + _u64(0), prefix + _u64(below)):
            if len(k) == len(prefix) + 8:          # exactly this key (not a longer key sharing the prefix)
                out.append((int.from_bytes(k[-8:], "big"), v))
        return out

    def _has_version(self, key: bytes) -> bool:
        """Whether any version of `key` is stored: stops at the first (a key changed in every block of the
        window has a version per kept height)."""
        prefix = VERSION + key
        for k, _ in self._kv.iterate(prefix + _u64(0), prefix + _u64(1 << 63)):
            if len(k) == len(prefix) + 8:
                return True
        return False

    def commit_writes(self, changes: Mapping[bytes, bytes | None], height: int, root: tuple[bytes, int],
                      current) -> tuple[dict[bytes, bytes], list[bytes]]:
        """The puts and deletes recording block `height` (to add to its atomic write). `current(key)` reads
        a key's value before this block."""
        puts: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        if self.start is None:
            self.start = height
            puts[META_HISTORY_START] = _u64(height)
        for key, value in changes.items():
            if self.start < height and not self._has_version(key):   # its value before history began
                before = current(key)
                puts[VERSION + key + _u64(self.start - 1)] = _DELETED if before is None else _ALIVE + before
            puts[VERSION + key + _u64(height)] = _DELETED if value is None else _ALIVE + value
        puts[CHANGED + _u64(height)] = _pack(changes)
        puts[ROOT + _u64(height)] = root[0] + _u64(root[1])
        oldest = height - self.retention + 1
        if oldest > self.start:
            raw = self._kv.get(CHANGED + _u64(oldest))
            for key in _unpack(raw) if raw is not None else []:
                deletes += [VERSION + key + _u64(h) for h, _ in self._versions(key, oldest)]
            deletes += [k for k, _ in self._kv.iterate(CHANGED, CHANGED + _u64(oldest))]
            deletes += [k for k, _ in self._kv.iterate(ROOT, ROOT + _u64(oldest))]
        return puts, deletes

    def root(self, height: int) -> tuple[bytes, int] | None:
        """The tree root (app hash, root node's version) after block `height`, if recorded."""
        raw = self._kv.get(ROOT + _u64(height))
        if raw is None or len(raw) != 40:
            return None
        return raw[:32], int.from_bytes(raw[32:], "big")

    def get(self, key: bytes, height: int, current) -> bytes | None:
        """The key's value after block `height` (a kept height)."""
        versions = self._versions(key, height + 1)
        if versions:
            raw = versions[-1][1]
            return raw[1:] if raw[:1] == _ALIVE else None
        if self._has_version(key):
            return None        # first written after `height`, and absent before history began
        return current(key)    # unchanged since before `height`

    def iterate(self, start: bytes, end: bytes | None, height: int, current_iterate,
                current) -> Iterator[tuple[bytes, bytes]]:
        """State keys in [start, end) as they were after block `height`, ascending."""
        keys = {k for k, _ in current_iterate(start, end)}
        v_end = prefix_end(VERSION) if end is None else VERSION + end
        for k, _ in self._kv.iterate(VERSION + start, v_end):
            keys.add(k[len(VERSION):-8])
        for key in sorted(keys):
            if start <= key and (end is None or key < end):
                value = self.get(key, height, current)
                if value is not None:
                    yield key, value
