"""The LevelDB backend of `chain.store.kv.KVStore`, through plyvel."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import plyvel

from chain.store.kv import check_write

__all__ = ["LevelDBKV"]


class LevelDBKV:
    def __init__(self, path: str):
        # Tree nodes are keyed by hash (no locality): a bloom filter spares a probe of every level
        # per missing key, and a larger block cache keeps the upper tree levels in memory.
        self._db = plyvel.DB(path, create_if_missing=True, bloom_filter_bits=10, lru_cache_size=128 << 20)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def iterate(self, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        # plyvel's `stop` is exclusive and its iterators read from an implicit snapshot.
        if end is None:
            return self._db.iterator(start=start)
        return self._db.iterator(start=start, stop=end)

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes]) -> None:
        deletes = check_write(puts, deletes)
        # transaction=True: the batch is discarded if anything raises before the block ends.
        # sync=True: Commit returns only once the block is on disk, so a crash never loses a
        # height CometBFT already believes is committed.
        with self._db.write_batch(transaction=True, sync=True) as batch:
            for key, value in puts.items():
                batch.put(key, value)
            for key in deletes:
                batch.delete(key)

    def close(self) -> None:
        self._db.close()
