"""The storage backend interface, and the in-memory reference backend every backend is tested against.

Backends hold raw bytes only; namespaces and meaning live in `chain.store.state`.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

__all__ = ["KVStore", "MemoryKV", "prefix_end", "check_write"]


class KVStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Ascending keys in [start, end); end None means no upper bound."""
        ...

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes]) -> None:
        """Apply all puts and deletes, or none of them. A key may not be both put and deleted."""
        ...

    def close(self) -> None: ...


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key that starts with `prefix`; None if there is none.

    Trailing 0xff bytes cannot be incremented, so they are dropped first: prefix_end(b"a\\xff") == b"b".
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None  # b"" or all 0xff: every key from here on shares the prefix
    return stripped[:-1] + bytes([stripped[-1] + 1])


def check_write(puts: Mapping[bytes, bytes], deletes: Iterable[bytes]) -> list[bytes]:
    """Validate a write before anything is applied, so backends can stay all-or-nothing."""
    deletes = list(deletes)
    for key, value in puts.items():
        if type(key) is not bytes or type(value) is not bytes:
            raise TypeError(f"keys and values must be bytes, got {type(key).__name__}: {type(value).__name__}")
    for key in deletes:
        if type(key) is not bytes:
            raise TypeError(f"keys must be bytes, got {type(key).__name__}")
        if key in puts:
            raise ValueError(f"key {key!r} is both put and deleted in one write")
    return deletes


class MemoryKV:
    """A dict plus a sorted key list. The reference for behaviour, not built for large states."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []  # sorted; kept in step with _data

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        lo = bisect_left(self._keys, start)
        hi = len(self._keys) if end is None else bisect_left(self._keys, end)
        # Copy the range now: writes during iteration must not change what the caller sees,
        # matching LevelDB, whose iterators read from a snapshot.
        items = [(k, self._data[k]) for k in self._keys[lo:hi]] if lo < hi else []
        return iter(items)

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes]) -> None:
        deletes = check_write(puts, deletes)
        for key, value in puts.items():
            if key not in self._data:
                insort(self._keys, key)
            self._data[key] = value
        for key in deletes:
            if self._data.pop(key, None) is not None:
                del self._keys[bisect_left(self._keys, key)]

    def close(self) -> None:
        pass
