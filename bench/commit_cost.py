"""Commit cost per block as the state grows (1e3 .. 1e6 keys), on LevelDB, through CommittedStore.

The state is grown in big batches (CommittedStore.prepare + commit of --batch new keys at a time) to
each target size. At each size a run of typical blocks is measured: --changed keys per block (70%
updates of existing keys, 30% inserts of new ones by default), timing CommittedStore.prepare() (Merkle
work, node reads) plus CommittedStore.commit() (one atomic, synced LevelDB write of state values, new
tree nodes, height and app hash). Reported per size, as medians over the blocks:

  prepare / commit / total     milliseconds per block (mean ms: the mean of total, for amortized costs)
  raw                          baseline measured in the same run, block by block: the same keys and
                               values written to the same LevelDB in one LevelDBKV.write (same
                               sync=True path), under a separate prefix and without any Merkle work
  total/raw                    median of per-block ratios: what the authenticated store costs over a plain write
  growth                       total cost at this size / total cost at the smallest size; a tree that is
                               O(changed x log n) grows like log2(n)/log2(n0), printed alongside
  nodes/blk                    tree nodes written per block (len(PendingCommit.nodes))
  reads/blk                    node reads that missed the in-memory node cache and went to LevelDB

The store keeps the roots of the last --retention heights (the node's query_retention_blocks) and prunes
tree nodes no kept root reaches at every commit, as a node does, so the measured blocks pay for pruning.
At the largest size, after --churn more (untimed) blocks, the database's size on disk is reported after
full compactions, pruned (this run) and unpruned: the same blocks replayed untimed into a store that keeps every root (what the tree kept
before pruning existed; --no-disk-baseline skips that replay). The last line is
`ratio commit_growth_1e6_vs_1e3 VALUE`: total ms per block at the largest size over the smallest.

    .venv/bin/python bench/commit_cost.py                    # 1e3, 1e4, 1e5, 1e6 keys (several minutes)
    .venv/bin/python bench/commit_cost.py --max-keys 100000  # stop at 1e5
    .venv/bin/python bench/commit_cost.py --quick            # 1e3 .. 1e6 keys, 10 blocks each, retention 0, no disk baseline (< 2 min)

After each growth phase the whole LevelDB is compacted (untimed, reported): a bulk load leaves
compaction debt that makes LevelDB stall writes (its level-0 slowdown), which a live chain adding ~100
keys per block would not have. Then os.sync() flushes the bulk load's dirty pages, which would otherwise
slow every synced write (commit and raw baseline alike) until the kernel wrote them back. Without these
steps the measured blocks would partly time leftover bulk-load I/O. --no-compact skips both.

Diagnostics, in this process only (chain/store and abci_app are not modified):
  --bloom-bits N     open LevelDB with a bloom filter of N bits per key (LevelDBKV opens it with none)
  --block-cache-mb M open LevelDB with an M MiB block cache (LevelDB's default is 8 MiB)
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import plyvel  # noqa: E402

from abci_app.leveldb import LevelDBKV  # noqa: E402
from chain.store.kv import prefix_end  # noqa: E402
from chain.store.state import CommittedStore  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # plain progress lines instead
    tqdm = None

RAW_PREFIX = b"x/"  # baseline writes: outside every namespace of chain.store.state


class CountingKV:
    """Pass-through to the real backend, counting gets (node cache misses during prepare)."""

    def __init__(self, kv):
        self._kv = kv
        self.gets = 0

    def get(self, key):
        self.gets += 1
        return self._kv.get(key)

    def iterate(self, start, end):
        return self._kv.iterate(start, end)

    def write(self, puts, deletes):
        self._kv.write(puts, deletes)

    def close(self):
        self._kv.close()


def open_leveldb(path: str, bloom_bits: int | None, cache_mb: int | None) -> LevelDBKV:
    if bloom_bits is None and cache_mb is None:
        return LevelDBKV(path)  # exactly as the node opens it
    options = {"create_if_missing": True}
    if bloom_bits is not None:
        options["bloom_filter_bits"] = bloom_bits
    if cache_mb is not None:
        options["lru_cache_size"] = cache_mb << 20
    kv = LevelDBKV.__new__(LevelDBKV)  # same read/write code, different open options
    kv._db = plyvel.DB(path, **options)
    return kv


def state_key(i: int) -> bytes:
    return b"bench/acct/" + i.to_bytes(8, "big")


def state_value(i: int, version: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big") + version.to_bytes(8, "big")).digest()


class Grower:
    def __init__(self, store: CommittedStore, batch: int):
        self.store, self.batch = store, batch
        self.n = 0          # keys in the state (ids 0..n-1)
        self.height = 0
        self.build_seconds = 0.0
        self.compact_seconds = 0.0

    def commit(self, changes: dict) -> object:
        pending = self.store.prepare(changes)  # an empty block changes nothing, but still prunes
        self.height += 1
        self.store.commit(pending, self.height)
        return pending

    def grow_to(self, size: int) -> None:
        todo = size - self.n
        if todo <= 0:
            return
        bar = tqdm(total=todo, unit="key", desc=f"grow to {size:,}", leave=False, mininterval=2) if tqdm else None
        t0 = time.perf_counter()
        while self.n < size:
            count = min(self.batch, size - self.n)
            self.commit({state_key(i): state_value(i, 0) for i in range(self.n, self.n + count)})
            self.n += count
            if bar:
                bar.update(count)
            else:
                print(f"  grow to {size:,}: {self.n:,} keys, {time.perf_counter() - t0:.0f}s", flush=True)
        if bar:
            bar.close()
        self.build_seconds += time.perf_counter() - t0

    def settle(self, retention: int) -> None:
        """Commit empty blocks until the growth batches leave the kept window, so their (huge) sets of
        replaced nodes are pruned before measuring, as they would be on a chain that never commits 50,000
        keys at once. Untimed; counted in build s."""
        t0 = time.perf_counter()
        for _ in range(retention + 1):
            self.commit({})
        self.build_seconds += time.perf_counter() - t0

    def compact(self, leveldb: LevelDBKV) -> None:
        t0 = time.perf_counter()
        leveldb._db.compact_range()
        os.sync()  # flush the bulk load's dirty pages too, or they slow the measured blocks' fsyncs
        self.compact_seconds += time.perf_counter() - t0


def block_changes(rng: random.Random, grower: Grower, changed: int, insert_frac: float, version: int) -> dict:
    inserts = round(changed * insert_frac)
    updates = changed - inserts
    ids = rng.sample(range(grower.n), min(updates, grower.n))
    ids += range(grower.n, grower.n + inserts)
    grower.n += inserts
    return {state_key(i): state_value(i, version) for i in ids}


def disk_bytes(path: str) -> int:
    return sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file())


def play(args, sizes: list[int], retention: int, parent: str, measure: bool) -> tuple[list[dict], int]:
    """Grow a fresh LevelDB store through `sizes`, running the same blocks (same seed) at each; timed if
    `measure`. Returns the table rows and the database's bytes on disk at the end, after a full compaction."""
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="gradchain-commit-bench-", dir=parent)
    path = os.path.join(tmp, "db")
    leveldb = open_leveldb(path, args.bloom_bits, args.block_cache_mb)
    kv = CountingKV(leveldb)
    store = CommittedStore(kv, history_blocks=retention)
    grower = Grower(store, args.batch)
    rows = []
    version = 0
    try:
        for size in sizes:
            grower.grow_to(size)
            grower.settle(retention if retention < 10**6 else 0)
            if not args.no_compact and measure:
                grower.compact(leveldb)
            measured = {"prepare": [], "commit": [], "total": [], "raw": [], "ratio": [], "nodes": [], "reads": []}
            for b in range(args.warmup + args.blocks):
                version += 1
                changes = block_changes(rng, grower, args.changed, args.insert_frac, version)
                if not measure:
                    grower.commit(changes)
                    continue
                raw_puts = {RAW_PREFIX + k: v for k, v in changes.items()}
                gc.collect()

                def timed_block():
                    gets0 = kv.gets
                    t0 = time.perf_counter()
                    pending = store.prepare(changes)
                    t1 = time.perf_counter()
                    reads = kv.gets - gets0
                    grower.height += 1
                    store.commit(pending, grower.height)
                    t2 = time.perf_counter()
                    return t1 - t0, t2 - t1, len(pending.nodes), reads

                def timed_raw():
                    t0 = time.perf_counter()
                    kv.write(raw_puts, [])
                    return time.perf_counter() - t0

                if b % 2 == 0:  # alternate which goes first
                    prep, comm, nodes, reads = timed_block()
                    raw = timed_raw()
                else:
                    raw = timed_raw()
                    prep, comm, nodes, reads = timed_block()
                if b < args.warmup:
                    continue
                measured["prepare"].append(prep * 1e3)
                measured["commit"].append(comm * 1e3)
                measured["total"].append((prep + comm) * 1e3)
                measured["raw"].append(raw * 1e3)
                measured["ratio"].append((prep + comm) / raw)
                measured["nodes"].append(nodes)
                measured["reads"].append(reads)
            if not measure:
                continue
            row = {k: statistics.median(v) for k, v in measured.items()}
            row["mean"] = statistics.fmean(measured["total"])
            row["size"], row["build"], row["compact"] = size, grower.build_seconds, grower.compact_seconds
            rows.append(row)
            print(f"  size {size:>9,}: total {row['total']:7.2f} ms/block, raw {row['raw']:6.2f} ms, "
                  f"ratio {row['ratio']:5.1f}x, nodes {row['nodes']:.0f}, reads {row['reads']:.0f} "
                  f"(build so far {grower.build_seconds:.0f}s, compaction {grower.compact_seconds:.0f}s)", flush=True)
        for _ in range(args.churn):   # untimed blocks before weighing: what a chain running on adds
            version += 1
            grower.commit(block_changes(rng, grower, args.changed, args.insert_frac, version))
        # the raw baseline's keys are not the store's: drop them before weighing the store
        raw_keys = [k for k, _ in kv.iterate(RAW_PREFIX, prefix_end(RAW_PREFIX))]
        if raw_keys:
            kv.write({}, raw_keys)
        # One full compaction leaves the tombstones of deleted nodes one level up; repeat until the size
        # settles, so what is weighed is what the store holds, not what LevelDB has yet to drop.
        size_on_disk = disk_bytes(path)
        for attempt in range(5):
            leveldb._db.compact_range()
            before, size_on_disk = size_on_disk, disk_bytes(path)
            if attempt and size_on_disk >= before * 0.99:
                break
    finally:
        kv.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, size_on_disk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-keys", type=float, default=1e6, help="largest state size measured (default 1e6)")
    ap.add_argument("--batch", type=int, default=50_000, help="keys per growth commit (default 50000)")
    ap.add_argument("--blocks", type=int, default=40, help="measured blocks per size (default 40)")
    ap.add_argument("--warmup", type=int, default=5, help="unmeasured blocks per size before measuring (default 5)")
    ap.add_argument("--changed", type=int, default=100, help="changed keys per block (default 100)")
    ap.add_argument("--insert-frac", type=float, default=0.3, help="share of changed keys that are new (default 0.3)")
    ap.add_argument("--retention", type=int, default=None,
                    help="heights whose roots the store keeps, as query_retention_blocks (default 20: pruning "
                         "runs in every measured block; a node's default is 1000. --quick: 0, no history)")
    ap.add_argument("--churn", type=int, default=1000,
                    help="untimed blocks run at the largest size before weighing the database (default 1000; --quick: 0)")
    ap.add_argument("--no-disk-baseline", action="store_true",
                    help="skip the untimed replay that weighs the unpruned database")
    ap.add_argument("--dir", default=None, help="parent directory for the temporary LevelDB (default: system tmp)")
    ap.add_argument("--bloom-bits", type=int, default=None, help="diagnostic: LevelDB bloom filter bits per key")
    ap.add_argument("--block-cache-mb", type=int, default=None, help="diagnostic: LevelDB block cache size in MiB")
    ap.add_argument("--no-compact", action="store_true", help="do not compact LevelDB nor os.sync() after each growth phase")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="short run: every size, 10 blocks each, no disk baseline")
    args = ap.parse_args()
    if args.quick:
        # growing to 1e6 keys with history on costs a version lookup per key (~1 min): off unless asked for
        args.blocks, args.warmup, args.no_disk_baseline, args.churn = 10, 2, True, 0
        args.retention = 0 if args.retention is None else args.retention
    elif args.retention is None:
        args.retention = 20
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= args.max_keys]
    if not sizes:
        ap.error("--max-keys must be at least 1000")
    if args.retention < 0:
        ap.error("--retention must be >= 0")

    print(f"commit_cost bench: LevelDB; sizes {', '.join(f'{s:,}' for s in sizes)}; "
          f"{args.changed} changed keys/block ({args.insert_frac:.0%} inserts); {args.blocks} blocks/size; "
          f"growth batches of {args.batch:,}; roots kept: {args.retention} heights (older tree nodes pruned); "
          f"LevelDB: bloom {args.bloom_bits or 'store default'}, block cache {args.block_cache_mb or 'store default'} MiB; "
          f"compact after growth: {'no' if args.no_compact else 'yes'}", flush=True)
    rows, pruned_bytes = play(args, sizes, args.retention, args.dir, measure=True)
    unpruned_bytes = None
    if not args.no_disk_baseline:
        print("  replaying the same blocks untimed into a store that keeps every root, to weigh it ...", flush=True)
        unpruned_bytes = play(args, sizes, 10**7, args.dir, measure=False)[1]

    base = rows[0]
    print()
    print(f"{'keys':>10} {'build s':>8} {'compact s':>9} {'prepare ms':>11} {'commit ms':>10} {'total ms':>9} {'mean ms':>8} {'raw ms':>7} "
          f"{'total/raw':>10} {'growth':>7} {'log2 ref':>9} {'nodes/blk':>10} {'reads/blk':>10}")
    for row in rows:
        print(f"{row['size']:>10,} {row['build']:>8.0f} {row['compact']:>9.0f} {row['prepare']:>11.2f} {row['commit']:>10.2f} "
              f"{row['total']:>9.2f} {row['mean']:>8.2f} {row['raw']:>7.2f} {row['ratio']:>9.1f}x "
              f"{row['total'] / base['total']:>6.2f}x {math.log2(row['size']) / math.log2(base['size']):>8.2f}x "
              f"{row['nodes']:>10.0f} {row['reads']:>10.0f}")
    print(f"medians (mean ms: mean of total) over {args.blocks} blocks of {args.changed} changed keys; build s = cumulative time to grow "
          f"the state (prepare+commit of {args.batch:,}-key batches), compact s = cumulative untimed LevelDB compaction; growth = total / total at {base['size']:,} keys; "
          f"log2 ref = log2(n)/log2({base['size']:,})")
    last = rows[-1]
    disk = f"disk at {last['size']:,} keys, {args.churn} blocks later, after full compaction: {pruned_bytes / 1e6:.1f} MB pruned (roots of {args.retention} heights kept)"
    if unpruned_bytes is not None:
        disk += f", {unpruned_bytes / 1e6:.1f} MB unpruned (every root kept): {unpruned_bytes / pruned_bytes:.2f}x"
    print(disk)
    print(f"ratio commit_growth_1e{round(math.log10(last['size']))}_vs_1e{round(math.log10(base['size']))} "
          f"{last['total'] / base['total']:.2f}")


if __name__ == "__main__":
    main()
