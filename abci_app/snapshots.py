"""State sync snapshots (docs/operations.md, "State sync"): taken by a node, served to joining nodes, restored.

Not consensus: whether and how often a node snapshots is its operator's choice (gradchain.toml
`snapshot_interval`, `snapshot_keep_recent`, `snapshot_chunk_bytes`); nothing here changes an app hash.

Format 1. A snapshot of height H is the committed state after block H: every (state key, value) pair under
the store's s/ namespace, in ascending key order, each written as
    u32 big-endian key length ‖ key ‖ u32 big-endian value length ‖ value
and the concatenation cut into chunks of `chunk_bytes` (the last one shorter). The same state and chunk size
give the same bytes on every node. The Snapshot's metadata is JSON (sorted keys) with the SHA-256 of each
chunk, the chunk size, the pair count and the total length; its hash is the SHA-256 of the metadata, so
peers serving the same snapshot are grouped by CometBFT and chunks can come from any of them.

What a joining node checks: each chunk's SHA-256 against the metadata as it arrives (a mismatch is refused:
the chunk is fetched again and its sender rejected), the stream's shape (sorted unique keys, exact length,
no trailing bytes), and at the end the rebuilt tree's root against the app hash CometBFT's light client
verified for height H (a mismatch rejects the snapshot; nothing is written). Only then is the state written,
in one atomic write (chain.store.state.CommittedStore.restore).

On disk, under <data_dir>/snapshots/: one folder per height, `<height>/metadata.json` and `<height>/<index>`
chunk files, written into a temporary folder first and renamed into place, so a crash leaves no half snapshot.
Taking a snapshot runs right after Commit, on the ABCI thread: it reads the whole state once (seconds for a
few hundred MB of state), during which the node does not answer CometBFT. Fine for a moderate state; a large
one would need a background copy from a LevelDB snapshot.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gradchain.snapshots")

FORMAT = 1
MAX_CHUNK_BYTES = 8 << 20      # CometBFT's chunk messages are at most 16 MB
MAX_CHUNKS = 100_000           # CometBFT's default max_snapshot_chunks
_TMP = ".tmp-"


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


@dataclass(frozen=True)
class Snapshot:
    height: int
    format: int
    chunks: int
    hash: bytes
    metadata: bytes


@dataclass(frozen=True)
class Metadata:
    chunk_hashes: tuple[bytes, ...]
    chunk_bytes: int
    pairs: int
    total_bytes: int

    def encode(self) -> bytes:
        return json.dumps({"chunk_bytes": self.chunk_bytes, "chunk_hashes": [h.hex() for h in self.chunk_hashes],
                           "pairs": self.pairs, "total_bytes": self.total_bytes}, sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> "Metadata":
        """ValueError unless `raw` is well-formed format-1 metadata."""
        try:
            d = json.loads(raw)
            hashes = tuple(bytes.fromhex(h) for h in d["chunk_hashes"])
            meta = cls(hashes, int(d["chunk_bytes"]), int(d["pairs"]), int(d["total_bytes"]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed snapshot metadata: {e}") from None
        if any(len(h) != 32 for h in hashes) or not 0 < meta.chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError("snapshot metadata: bad chunk hashes or chunk size")
        if meta.pairs < 0 or meta.total_bytes < 8 * meta.pairs:
            raise ValueError("snapshot metadata: bad pair count or length")
        expected = max(1, -(-meta.total_bytes // meta.chunk_bytes))
        if len(hashes) != expected:
            raise ValueError(f"snapshot metadata: {len(hashes)} chunk hashes for {expected} chunks")
        return meta


class SnapshotStore:
    """The snapshots this node took, on disk, and taking new ones after Commit."""

    def __init__(self, root: Path, interval: int, keep_recent: int = 2, chunk_bytes: int = 1 << 20):
        if interval < 0 or keep_recent < 1 or not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError("snapshot interval >= 0, keep_recent >= 1, 0 < chunk_bytes <= 8 MiB")
        self.root, self.interval, self.keep_recent, self.chunk_bytes = Path(root), interval, keep_recent, chunk_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(_TMP + "*"):    # a crash while writing one
            shutil.rmtree(stale, ignore_errors=True)

    def due(self, height: int) -> bool:
        return self.interval > 0 and height > 0 and height % self.interval == 0

    def take(self, store) -> Snapshot:
        """Write the snapshot of `store` (a CommittedStore) at its committed height, then prune old ones."""
        started = time.perf_counter()
        height = store.height
        tmp = self.root / f"{_TMP}{height}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        hashes, buf, pairs, total = [], bytearray(), 0, 0

        def flush(piece: bytes) -> None:
            path = tmp / str(len(hashes))
            path.write_bytes(piece)
            hashes.append(hashlib.sha256(piece).digest())

        for key, value in store.iterate(b"", None):
            record = _u32(len(key)) + key + _u32(len(value)) + value
            buf += record
            pairs += 1
            total += len(record)
            while len(buf) >= self.chunk_bytes:
                flush(bytes(buf[:self.chunk_bytes]))
                del buf[:self.chunk_bytes]
        if buf or not hashes:
            flush(bytes(buf))
        meta = Metadata(tuple(hashes), self.chunk_bytes, pairs, total)
        raw = meta.encode()
        (tmp / "metadata.json").write_bytes(raw)
        _fsync_dir(tmp)
        final = self.root / str(height)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        self._prune()
        snapshot = Snapshot(height, FORMAT, len(hashes), hashlib.sha256(raw).digest(), raw)
        log.info("snapshot taken", extra={"height": height, "chunks": len(hashes), "pairs": pairs,
                                          "bytes": total, "ms": round((time.perf_counter() - started) * 1000, 1)})
        return snapshot

    def heights(self) -> list[int]:
        return sorted(int(p.name) for p in self.root.iterdir() if p.name.isdigit()
                      and (p / "metadata.json").is_file())

    def _prune(self) -> None:
        for height in self.heights()[:-self.keep_recent]:
            shutil.rmtree(self.root / str(height), ignore_errors=True)

    def list(self) -> list[Snapshot]:
        out = []
        for height in self.heights():
            try:
                raw = (self.root / str(height) / "metadata.json").read_bytes()
                meta = Metadata.decode(raw)
            except (OSError, ValueError):
                log.warning("unreadable snapshot skipped", extra={"height": height})
                continue
            out.append(Snapshot(height, FORMAT, len(meta.chunk_hashes), hashlib.sha256(raw).digest(), raw))
        return out

    def load_chunk(self, height: int, format: int, index: int) -> bytes:
        """The chunk as stored (b"" if there is none). Not re-checked here: the joining node checks each one."""
        if format != FORMAT or not str(height).isdigit():
            return b""
        try:
            return (self.root / str(height) / str(index)).read_bytes()
        except OSError:
            return b""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ChunkRefused(ValueError):
    """A chunk whose hash is not the one the metadata names: fetch it again, from someone else."""


class SnapshotRejected(ValueError):
    """The snapshot as a whole is wrong (its stream is malformed or its root is not the trusted app hash)."""


class Restore:
    """One snapshot being restored: offered, then chunks applied in any order, then written into the app."""

    def __init__(self, snapshot: Snapshot, app_hash: bytes):
        """ValueError if the offer is not a sane format-1 snapshot."""
        if snapshot.format != FORMAT:
            raise ValueError(f"snapshot format {snapshot.format}, this node restores format {FORMAT}")
        meta = Metadata.decode(snapshot.metadata)
        if snapshot.height <= 0 or snapshot.chunks != len(meta.chunk_hashes) or snapshot.chunks > MAX_CHUNKS:
            raise ValueError("snapshot height or chunk count does not match its metadata")
        if hashlib.sha256(snapshot.metadata).digest() != snapshot.hash:
            raise ValueError("snapshot hash is not its metadata's")
        if len(app_hash) != 32:
            raise ValueError("the trusted app hash is not 32 bytes")
        self.snapshot, self.meta, self.app_hash = snapshot, meta, app_hash
        self._chunks: dict[int, bytes] = {}

    @property
    def complete(self) -> bool:
        return len(self._chunks) == self.snapshot.chunks

    def add(self, index: int, chunk: bytes) -> None:
        """Keep a chunk whose hash matches; ChunkRefused otherwise."""
        if not 0 <= index < self.snapshot.chunks:
            raise ChunkRefused(f"chunk index {index} outside 0..{self.snapshot.chunks - 1}")
        if hashlib.sha256(chunk).digest() != self.meta.chunk_hashes[index]:
            raise ChunkRefused(f"chunk {index} does not hash to the snapshot's chunk hash")
        self._chunks[index] = chunk

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """The state pairs of a complete snapshot; SnapshotRejected if the stream is malformed."""
        stream = b"".join(self._chunks[i] for i in range(self.snapshot.chunks))
        if len(stream) != self.meta.total_bytes:
            raise SnapshotRejected(f"snapshot stream is {len(stream)} bytes, metadata says {self.meta.total_bytes}")
        out, at, last = [], 0, None
        view = memoryview(stream)
        while at < len(stream):
            if at + 4 > len(stream):
                raise SnapshotRejected("snapshot stream ends inside a key length")
            n = int.from_bytes(view[at:at + 4], "big")
            key = bytes(view[at + 4:at + 4 + n])
            at += 4 + n
            if at + 4 > len(stream):
                raise SnapshotRejected("snapshot stream ends inside a value length")
            m = int.from_bytes(view[at:at + 4], "big")
            value = bytes(view[at + 4:at + 4 + m])
            at += 4 + m
            if at > len(stream):
                raise SnapshotRejected("snapshot stream ends inside a record")
            if last is not None and key <= last:
                raise SnapshotRejected("snapshot keys are not strictly ascending")
            last = key
            out.append((key, value))
        if len(out) != self.meta.pairs:
            raise SnapshotRejected(f"snapshot holds {len(out)} pairs, metadata says {self.meta.pairs}")
        return out

    def write_into(self, app) -> None:
        """Restore the app (chain.app.Application.restore); SnapshotRejected if the root is not the app hash."""
        started = time.perf_counter()
        pairs = self.pairs()
        if not app.restore(pairs, self.snapshot.height, self.app_hash):
            raise SnapshotRejected(f"the restored state's root is not the trusted app hash {self.app_hash.hex()} "
                                   f"of height {self.snapshot.height}")
        log.info("snapshot restored", extra={"height": self.snapshot.height, "pairs": len(pairs),
                                             "app_hash": self.app_hash.hex(),
                                             "ms": round((time.perf_counter() - started) * 1000, 1)})
