"""Pruning of tree nodes (chain/store/state.py "Pruning"): after every commit the database holds exactly the
nodes reachable from the roots of the heights kept (query_retention_blocks), so every kept height proves
and nothing else is kept; older heights are refused; all of it survives reopening LevelDB, state sync
restores, and a database in the old hash-keyed layout is migrated (or refused) rather than misread."""
from __future__ import annotations

import hashlib
import random

import pytest

from abci_app.leveldb import LevelDBKV
from chain.store.kv import MemoryKV, prefix_end
from chain.store.smt import CorruptStore
from chain.store.state import (LEGACY_NODE, META_LAYOUT, NODE, STALE, STATE, CommittedStore, StoreLayoutError)
from chain.tx import proof as proofs
from chain.tx.proof import EMPTY, verify_proof
from test_smt import reachable

KEYS = [b"acct/%d" % i for i in range(120)]


def random_blocks(seed: int, count: int):
    """Blocks of inserts, updates and deletes over a small key space, with values drawn from a small set, so
    identical leaves and subtrees keep reappearing at later versions (what would defeat hash-keyed
    pruning), and now and then a block that deletes almost everything (long collapses) or changes nothing."""
    rng = random.Random(seed)
    for n in range(count):
        if n % 17 == 16:
            yield {key: None for key in KEYS[:-2]}
        elif n % 13 == 12:
            yield {}
        else:
            yield {rng.choice(KEYS): rng.choice([None, b"a", b"b", b"c", b"%d" % rng.randrange(5)])
                   for _ in range(rng.randrange(1, 25))}


def node_keys(kv) -> set[bytes]:
    return {key[len(NODE):] for key, _ in kv.iterate(NODE, prefix_end(NODE))}


def stored_nodes(kv) -> dict[bytes, bytes]:
    return {key[len(NODE):]: value for key, value in kv.iterate(NODE, prefix_end(NODE))}


def check_kept_heights(store: CommittedStore, kv, states: dict[int, dict], roots: dict[int, bytes]) -> None:
    """Every kept height proves every key's value (or absence) against the app hash of that height, the
    database holds exactly the nodes those roots reach, and the height before the oldest is refused."""
    oldest = store.oldest_height()
    nodes = stored_nodes(kv)
    live: set[bytes] = set()
    for height in range(oldest, store.height + 1):
        view = store.at(height)
        assert view.app_hash == roots[height]
        for key in KEYS:
            value, proof = view.prove(key)
            assert value == states[height].get(key)
            verify_proof(roots[height], key, value, proof)
        live |= reachable(nodes, view.root)
    assert set(nodes) == live, "the database must hold exactly the nodes the kept roots reach"
    if oldest > 1:
        with pytest.raises(ValueError):
            store.at(oldest - 1)


def run(store: CommittedStore, blocks, states: dict, roots: dict, start: int = 1) -> None:
    state = dict(states.get(start - 1, {}))
    for height, changes in enumerate(blocks, start):
        store.commit(store.prepare(changes), height)
        for key, value in changes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        states[height], roots[height] = dict(state), store.app_hash


@pytest.mark.parametrize("retention", [0, 1, 4, 11])
def test_pruned_tree_keeps_exactly_the_nodes_of_kept_heights(retention):
    kv = MemoryKV()
    store = CommittedStore(kv, history_blocks=retention)
    states, roots = {0: {}}, {0: EMPTY}
    for height, changes in enumerate(random_blocks(retention, 60), 1):
        run(store, [changes], states, roots, start=height)
        check_kept_heights(store, kv, states, roots)
    assert store.oldest_height() == max(60 - retention + 1, 1) if retention else 60
    # the same blocks with no pruning at all (every node kept) end on the same roots
    unpruned = CommittedStore(MemoryKV(), history_blocks=10**6)
    for height, changes in enumerate(random_blocks(retention, 60), 1):
        unpruned.commit(unpruned.prepare(changes), height)
        assert unpruned.app_hash == roots[height]


def test_pruning_survives_reopening_leveldb(tmp_path):
    path = str(tmp_path / "db")
    kv = LevelDBKV(path)
    store = CommittedStore(kv, history_blocks=6)
    states, roots = {0: {}}, {0: EMPTY}
    blocks = list(random_blocks(7, 50))
    run(store, blocks[:30], states, roots)
    check_kept_heights(store, kv, states, roots)
    kv.close()
    kv = LevelDBKV(path)
    reopened = CommittedStore(kv, history_blocks=6)
    assert (reopened.height, reopened.app_hash, reopened.oldest_height()) == (30, roots[30], 25)
    check_kept_heights(reopened, kv, states, roots)
    run(reopened, blocks[30:], states, roots, start=31)
    check_kept_heights(reopened, kv, states, roots)
    kv.close()


def test_retention_changes_between_restarts_never_claim_pruned_heights(tmp_path):
    kv = MemoryKV()
    store = CommittedStore(kv, history_blocks=3)
    states, roots = {0: {}}, {0: EMPTY}
    blocks = list(random_blocks(3, 40))
    run(store, blocks[:20], states, roots)
    wider = CommittedStore(kv, history_blocks=10)   # the operator raises query_retention_blocks
    assert wider.oldest_height() == 18              # what was pruned stays pruned
    run(wider, blocks[20:30], states, roots, start=21)
    check_kept_heights(wider, kv, states, roots)
    narrower = CommittedStore(kv, history_blocks=2)  # and lowers it: the next commit prunes the difference
    run(narrower, blocks[30:], states, roots, start=31)
    assert narrower.oldest_height() == 39
    check_kept_heights(narrower, kv, states, roots)


def test_commit_with_pruning_is_one_atomic_write():
    class Counting(MemoryKV):
        writes = 0

        def write(self, puts, deletes):
            Counting.writes += 1
            super().write(puts, deletes)

    kv = Counting()
    store = CommittedStore(kv, history_blocks=2)
    for height, changes in enumerate(random_blocks(1, 20), 1):
        before = Counting.writes
        store.commit(store.prepare(changes), height)
        assert Counting.writes == before + 1
    assert any(True for _ in kv.iterate(STALE, prefix_end(STALE)))   # stale records of kept heights


def test_state_sync_restore_then_pruned_blocks_match_the_source():
    source_kv = MemoryKV()
    source = CommittedStore(source_kv, history_blocks=5)
    states, roots = {0: {}}, {0: EMPTY}
    blocks = list(random_blocks(11, 40))
    run(source, blocks[:25], states, roots)
    restored_kv = MemoryKV()
    restored = CommittedStore(restored_kv, history_blocks=5)
    assert restored.restore(source.iterate(b"", None), 25, source.app_hash)
    assert restored.oldest_height() == 25
    restored_states, restored_roots = {25: states[25]}, {25: roots[25]}
    run(source, blocks[25:], states, roots, start=26)
    run(restored, blocks[25:], restored_states, restored_roots, start=26)
    assert restored_roots == {h: roots[h] for h in range(25, 41)}
    check_kept_heights(restored, restored_kv, restored_states, restored_roots)
    check_kept_heights(source, source_kv, states, roots)


# --- layout 1 (nodes under n/ + hash) ---------------------------------------------------------
def write_layout_1(kv, state: dict[bytes, bytes], height: int, app_hash: bytes | None = None) -> bytes:
    """A database as the hash-keyed code wrote it: s/ values, n/ + hash -> node, m/height, m/app_hash."""
    puts = {STATE + k: v for k, v in state.items()}

    def build(items, depth):
        if not items:
            return EMPTY
        if len(items) == 1:
            node = proofs.LEAF_TAG + items[0][0] + items[0][1]
        else:
            left = build([it for it in items if not proofs.bit(it[0], depth)], depth + 1)
            right = build([it for it in items if proofs.bit(it[0], depth)], depth + 1)
            node = proofs.INTERNAL_TAG + left + right
        puts[LEGACY_NODE + hashlib.sha256(node).digest()] = node
        return hashlib.sha256(node).digest()

    root = build(sorted((proofs.key_hash(k), proofs.value_hash(v)) for k, v in state.items()), 0)
    puts[b"m/height"] = height.to_bytes(8, "big")
    puts[b"m/app_hash"] = root if app_hash is None else app_hash
    kv.write(puts, [])
    return root


def test_layout_1_database_is_migrated_once_and_keeps_its_app_hash(tmp_path):
    path = str(tmp_path / "db")
    kv = LevelDBKV(path)
    state = {key: b"v%d" % i for i, key in enumerate(KEYS)}
    root = write_layout_1(kv, state, height=9)
    store = CommittedStore(kv, history_blocks=4)
    assert (store.height, store.app_hash, store.oldest_height()) == (9, root, 9)
    assert kv.get(META_LAYOUT) == b"2"
    assert not any(True for _ in kv.iterate(LEGACY_NODE, prefix_end(LEGACY_NODE)))
    for key, value in state.items():
        verify_proof(root, key, value, store.prove(key)[1])
    states, roots = {9: state}, {9: root}
    run(store, list(random_blocks(5, 10)), states, roots, start=10)
    check_kept_heights(store, kv, states, roots)
    kv.close()
    kv = LevelDBKV(path)
    assert CommittedStore(kv, history_blocks=4).app_hash == roots[19]   # no second migration
    kv.close()


def test_layout_1_database_whose_state_does_not_give_its_app_hash_is_refused_untouched():
    kv = MemoryKV()
    write_layout_1(kv, {b"a": b"1"}, height=3, app_hash=bytes(range(32)))
    before = list(kv.iterate(b"", None))
    with pytest.raises(CorruptStore, match="not the stored app hash"):
        CommittedStore(kv)
    assert list(kv.iterate(b"", None)) == before


def test_unknown_tree_layout_is_refused_with_a_clear_message():
    kv = MemoryKV()
    store = CommittedStore(kv)
    store.commit(store.prepare({b"a": b"1"}), 1)
    kv.write({META_LAYOUT: b"3"}, [])
    before = list(kv.iterate(b"", None))
    with pytest.raises(StoreLayoutError, match="tree layout b'3'.*reads layout b'2'"):
        CommittedStore(kv)
    assert list(kv.iterate(b"", None)) == before


def test_a_pending_block_prepared_before_the_same_app_hash_recurred_is_refused():
    """A, then B, then A again: the app hash is back, but the tree under it was rewritten (and the old one
    pruned), so a block prepared on the first A must not commit on the second."""
    store = CommittedStore(MemoryKV())
    store.commit(store.prepare({b"k": b"A", b"other": b"1"}), 1)
    early = store.prepare({b"new": b"x"})
    store.commit(store.prepare({b"k": b"B"}), 2)
    store.commit(store.prepare({b"k": b"A"}), 3)
    assert store.app_hash == early.base_app_hash
    with pytest.raises(RuntimeError, match="different state"):
        store.commit(early, 4)
