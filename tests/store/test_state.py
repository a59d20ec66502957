"""Overlays, and the committed store's prepare/commit/reopen cycle over LevelDB."""
from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abci_app.leveldb import LevelDBKV
from chain.store.kv import MemoryKV
from chain.store.smt import node_key
from chain.store.state import NODE, CommittedStore, Overlay
from chain.tx.proof import EMPTY, verify_proof


class CountingKV(MemoryKV):
    """Counts reads and writes, to show what prepare touches."""

    def __init__(self):
        super().__init__()
        self.gets = self.writes = 0

    def get(self, key):
        self.gets += 1
        return super().get(key)

    def write(self, puts, deletes):
        self.writes += 1
        super().write(puts, deletes)


def committed(pairs: dict[bytes, bytes], kv=None) -> CommittedStore:
    store = CommittedStore(kv if kv is not None else MemoryKV())
    block = Overlay(store)
    for key, value in pairs.items():
        block.set(key, value)
    store.commit(store.prepare(block.changes()), height=store.height + 1)
    return store


# --- overlays --------------------------------------------------------------------------------
def test_discarded_branch_leaves_nothing():
    store = committed({b"a": b"1"})
    block = Overlay(store)
    branch = block.branch()
    branch.set(b"a", b"2")
    branch.set(b"b", b"3")
    branch.delete(b"a")
    assert branch.get(b"a") is None and branch.get(b"b") == b"3"
    del branch
    assert block.get(b"a") == b"1" and block.get(b"b") is None
    assert block.changes() == {}


def test_write_to_parent_through_nested_branches():
    store = committed({b"a": b"1", b"b": b"2"})
    block = Overlay(store)
    tx = block.branch()
    msg = tx.branch()
    msg.set(b"c", b"3")
    msg.delete(b"a")
    msg.set(b"b", b"")  # an empty value is a value, not a delete
    msg.write_to_parent()
    assert msg.changes() == {}  # emptied, so it cannot be applied twice
    assert block.changes() == {}
    tx.write_to_parent()
    assert block.changes() == {b"a": None, b"b": b"", b"c": b"3"}
    assert [block.get(k) for k in (b"a", b"b", b"c")] == [None, b"", b"3"]
    assert store.get(b"a") == b"1"  # nothing reaches the committed store before commit
    with pytest.raises(TypeError):
        block.write_to_parent()


def test_iterate_merges_writes_over_parent_and_hides_deletes():
    store = committed({b"p/1": b"a", b"p/3": b"c", b"p/5": b"e", b"q/1": b"x"})
    block = Overlay(store)
    block.set(b"p/2", b"B")       # new key between parent keys
    block.set(b"p/3", b"C")       # overrides
    block.delete(b"p/5")          # hides
    block.delete(b"p/9")          # deleting a key the parent never had
    tx = block.branch()
    tx.set(b"p/0", b"Z")
    tx.delete(b"p/1")
    tx.set(b"p/5", b"E")          # resurrects what the block deleted
    assert list(block.iterate(b"p/", b"q/")) == [(b"p/1", b"a"), (b"p/2", b"B"), (b"p/3", b"C")]
    assert list(tx.iterate(b"p/", b"q/")) == [(b"p/0", b"Z"), (b"p/2", b"B"), (b"p/3", b"C"), (b"p/5", b"E")]
    assert list(tx.iterate(b"p/2", b"p/5")) == [(b"p/2", b"B"), (b"p/3", b"C")]
    assert [k for k, _ in tx.iterate(b"", None)] == [b"p/0", b"p/2", b"p/3", b"p/5", b"q/1"]


def test_values_and_keys_must_be_bytes():
    block = Overlay(CommittedStore(MemoryKV()))
    with pytest.raises(TypeError):
        block.set(b"k", None)
    with pytest.raises(TypeError):
        block.set("k", b"v")


overlay_ops = st.lists(st.tuples(st.integers(0, 2), st.binary(max_size=2), st.one_of(st.none(), st.binary(max_size=2))),
                       max_size=40)


@settings(max_examples=150, deadline=None)
@given(base=st.dictionaries(st.binary(max_size=2), st.binary(max_size=2), max_size=15), ops=overlay_ops,
       start=st.binary(max_size=2), end=st.one_of(st.none(), st.binary(max_size=2)))
def test_overlay_stack_reads_like_layered_dicts(base, ops, start, end):
    """Random writes spread over a three-level stack read exactly like dicts layered in the same way."""
    block = Overlay(committed(base))
    layers = [block, block.branch()]
    layers.append(layers[1].branch())
    model: list[dict] = [{}, {}, {}]  # each layer's own writes, None = delete

    def view(level):
        merged = dict(base)
        for writes in model[:level + 1]:
            merged.update(writes)
        return sorted((k, v) for k, v in merged.items()
                      if v is not None and k >= start and (end is None or k < end))

    for level, key, value in ops:
        if value is None:
            layers[level].delete(key)
        else:
            layers[level].set(key, value)
        model[level][key] = value
        assert list(layers[2].iterate(start, end)) == view(2)
    for level in (2, 1):
        layers[level].write_to_parent()
        model[level - 1].update(model[level])
        model[level] = {}
        assert list(layers[level - 1].iterate(start, end)) == view(level - 1)
    assert block.changes() == dict(sorted(model[0].items()))


# --- committed store -------------------------------------------------------------------------
def test_prepare_touches_no_disk_and_commit_is_one_write():
    kv = CountingKV()
    store = CommittedStore(kv)
    assert (store.height, store.app_hash) == (0, EMPTY)
    block = Overlay(store)
    block.set(b"k", b"v")
    pending = store.prepare(block.changes())
    assert kv.writes == 0 and store.get(b"k") is None and store.app_hash == EMPTY
    store.commit(pending, height=1)
    assert kv.writes == 1
    assert (store.height, store.app_hash, store.get(b"k")) == (1, pending.app_hash, b"v")


def test_commit_rejects_stale_pending_and_old_heights():
    store = committed({b"a": b"1"})
    first = store.prepare({b"b": b"2"})
    second = store.prepare({b"c": b"3"})
    with pytest.raises(RuntimeError):
        store.commit(first, height=1)  # height 1 is already committed
    store.commit(first, height=2)
    with pytest.raises(RuntimeError):
        store.commit(second, height=3)  # prepared on the state before `first`


def test_commit_and_reopen_over_leveldb(tmp_path):
    path = str(tmp_path / "state")
    kv = LevelDBKV(path)
    store = CommittedStore(kv)
    for height in range(1, 6):
        block = Overlay(store)
        for i in range(50):
            block.set(b"acct/%d" % (height * 100 + i), b"%d" % height)
        block.delete(b"acct/%d" % ((height - 1) * 100))
        store.commit(store.prepare(block.changes()), height)
    height, app_hash = store.height, store.app_hash
    contents = list(store.iterate(b"", None))
    kv.close()

    reopened = CommittedStore(LevelDBKV(path))
    assert (reopened.height, reopened.app_hash) == (height, app_hash)
    assert height == 5
    assert list(reopened.iterate(b"", None)) == contents
    assert len(contents) == 5 * 50 - 4
    for key in (b"acct/101", b"acct/550", b"acct/100", b"missing"):
        value, proof = reopened.prove(key)
        verify_proof(app_hash, key, value, proof)
    assert reopened.prove(b"acct/100")[0] is None
    # the same state written in one block on a fresh store gives the same app hash
    assert committed(dict(contents)).app_hash == app_hash


def test_one_change_touches_about_depth_nodes_not_state_size():
    kv = CountingKV()
    n = 2000
    committed({b"key/%d" % i: b"%d" % i for i in range(n)}, kv)
    fresh = CommittedStore(kv)  # cold node cache: every node read hits the backend
    bound = 2 * math.log2(n) + 4
    for key, value in [(b"key/17", b"changed"), (b"new key", b"1"), (b"key/1234", None)]:
        kv.gets = 0
        pending = fresh.prepare({key: value})
        assert len(pending.nodes) <= bound, (key, len(pending.nodes))
        assert kv.gets <= bound, (key, kv.gets)
    kv.gets = 0
    pending = fresh.prepare({b"key/%d" % i: b"x" for i in range(0, n, 200)})  # 10 changes
    assert len(pending.nodes) <= 10 * bound and kv.gets <= 10 * bound


def test_committed_nodes_are_stored_under_their_namespace():
    kv = MemoryKV()
    store = committed({b"a": b"1", b"b": b"2"}, kv)
    nodes = [k for k, _ in kv.iterate(NODE, None) if k.startswith(NODE)]
    assert len(nodes) >= 3  # two leaves and at least the root
    root = kv.get(NODE + node_key(EMPTY, 0, store.root[1]))   # the root: depth 0, any path
    assert root is not None and hashlib.sha256(root[:65]).digest() == store.app_hash
