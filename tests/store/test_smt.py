"""The sparse Merkle tree: canonical roots, batch updates, proofs and the strict proof decoder."""
from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.store.smt import EMPTY_REF, CorruptStore, SparseMerkleTree, node_key
from chain.tx import proof as proofs
from chain.tx.proof import EMPTY, ProofError, verify_proof


class Tree:
    """A tree over an in-memory node dict, tracking its current root. Every update is checked never to
    overwrite a stored node and to name as stale only stored nodes; with `prune`, the stale nodes are
    deleted at once and the dict must then hold exactly the nodes the new root reaches."""

    def __init__(self, prune: bool = False):
        self.nodes: dict[bytes, bytes] = {}
        self.smt = SparseMerkleTree(self.nodes.get)
        self.ref = EMPTY_REF
        self.version = 0
        self.prune = prune

    @property
    def root(self) -> bytes:
        return self.ref[0]

    def apply(self, changes) -> dict[bytes, bytes]:
        self.version += 1
        update = self.smt.apply(self.ref, changes, self.version)
        assert not set(update.nodes) & set(self.nodes)
        assert len(set(update.stale)) == len(update.stale) and set(update.stale) <= set(self.nodes)
        self.nodes.update(update.nodes)
        self.ref = update.root
        if self.prune:
            for key in update.stale:
                del self.nodes[key]
            assert set(self.nodes) == reachable(self.nodes, self.ref)
        return update.nodes

    def prove(self, key) -> bytes:
        return self.smt.prove(self.ref, key)


def reachable(nodes: dict[bytes, bytes], ref, depth: int = 0, path: int = 0) -> set[bytes]:
    """The keys of the stored nodes under `ref` (at `depth`, on the path whose top bits are `path`)."""
    if ref[0] == EMPTY:
        return set()
    key = node_key(path.to_bytes(32, "big"), depth, ref[1])
    stored = nodes[key]
    assert hashlib.sha256(stored[:65]).digest() == ref[0]
    if stored[:1] == b"\x00":
        return {key}
    left = (stored[1:33], int.from_bytes(stored[65:73], "big"))
    right = (stored[33:65], int.from_bytes(stored[73:81], "big"))
    return ({key} | reachable(nodes, left, depth + 1, path)
            | reachable(nodes, right, depth + 1, path | 1 << (255 - depth)))


def reference_root(state: dict[bytes, bytes]) -> bytes:
    """Canonical root built from scratch, straight from the spec in chain.tx.proof."""
    def build(items, depth):
        if not items:
            return EMPTY
        if len(items) == 1:
            return proofs.leaf_hash(*items[0])
        left = [it for it in items if not proofs.bit(it[0], depth)]
        right = [it for it in items if proofs.bit(it[0], depth)]
        return proofs.internal_hash(build(left, depth + 1), build(right, depth + 1))
    return build([(proofs.key_hash(k), proofs.value_hash(v)) for k, v in state.items()], 0)


keys = st.binary(max_size=2)  # a small key space, so ops often hit existing keys
ops = st.lists(st.tuples(keys, st.one_of(st.none(), st.binary(max_size=3))), max_size=60)


@settings(max_examples=200, deadline=None)
@given(ops=ops, chunk_seed=st.integers(0, 2**32), order_seed=st.integers(0, 2**32))
def test_root_depends_only_on_final_state(ops, chunk_seed, order_seed):
    final: dict[bytes, bytes] = {}
    for key, value in ops:
        if value is None:
            final.pop(key, None)
        else:
            final[key] = value
    expected = reference_root(final)

    one_at_a_time = Tree(prune=True)   # prunes as it goes: it must keep exactly the live nodes
    for key, value in ops:
        one_at_a_time.apply({key: value})
    assert one_at_a_time.root == expected

    chunked, rng, i = Tree(prune=True), random.Random(chunk_seed), 0
    while i < len(ops):
        size = rng.randint(1, 10)
        chunked.apply(dict(ops[i:i + size]))  # later ops in a chunk win, as they would one by one
        i += size
    assert chunked.root == expected

    shuffled = Tree()
    pairs = sorted(final.items())
    random.Random(order_seed).shuffle(pairs)
    for key, value in pairs:
        shuffled.apply({key: value})
    assert shuffled.root == expected

    one_batch = Tree()
    one_batch.apply(final)
    assert one_batch.root == expected


def test_deleting_everything_gives_the_empty_root():
    keys_ = [b"key%d" % i for i in range(300)]
    tree = Tree(prune=True)
    tree.apply({k: b"v" for k in keys_})
    assert tree.root != EMPTY
    tree.apply({k: None for k in keys_})
    assert tree.root == EMPTY

    tree.apply({k: b"v" for k in keys_})
    random.Random(1).shuffle(keys_)
    for k in keys_[:-1]:
        tree.apply({k: None})
    assert tree.root == proofs.leaf_hash(proofs.key_hash(keys_[-1]), proofs.value_hash(b"v"))  # lifted to the root
    tree.apply({keys_[-1]: None})
    assert tree.root == EMPTY


def test_unchanged_values_write_no_nodes():
    tree = Tree()
    tree.apply({b"k%d" % i: b"%d" % i for i in range(50)})
    root = tree.root
    assert tree.apply({b"k3": b"3", b"absent": None}) == {}
    assert tree.root == root


def test_inclusion_and_absence_proofs_verify_for_every_key():
    state = {b"k%d" % i: b"value %d" % i for i in range(200)}
    state[b""] = b""  # empty key and value are legitimate
    tree = Tree()
    tree.apply(state)
    for key, value in state.items():
        verify_proof(tree.root, key, value, tree.prove(key))
    terminals = set()
    for i in range(200):
        key = b"absent%d" % i
        proof = tree.prove(key)
        verify_proof(tree.root, key, None, proof)
        terminals.add(proofs.decode(proof).terminal)
    assert terminals == {proofs.EMPTY_SUBTREE, proofs.OTHER_LEAF}  # both kinds of absence exercised


def test_proofs_in_tiny_trees():
    tree = Tree()
    verify_proof(EMPTY, b"x", None, tree.prove(b"x"))
    tree.apply({b"only": b"1"})
    verify_proof(tree.root, b"only", b"1", tree.prove(b"only"))
    verify_proof(tree.root, b"other", None, tree.prove(b"other"))
    assert len(proofs.decode(tree.prove(b"only")).siblings) == 0


def test_wrong_claims_are_rejected():
    tree = Tree()
    tree.apply({b"k%d" % i: b"v%d" % i for i in range(100)})
    present, absent = tree.prove(b"k7"), tree.prove(b"nope")
    with pytest.raises(ProofError):
        verify_proof(tree.root, b"k7", b"wrong", present)
    with pytest.raises(ProofError):
        verify_proof(tree.root, b"k7", None, present)  # an inclusion proof does not prove absence
    with pytest.raises(ProofError):
        verify_proof(tree.root, b"k8", b"v7", present)  # another key's proof
    with pytest.raises(ProofError):
        verify_proof(tree.root, b"nope", b"", absent)
    with pytest.raises(ProofError):
        verify_proof(tree.root, b"k7", None, absent)  # the absence proof of another key
    old_root, old_ref = tree.root, tree.ref
    tree.apply({b"k7": b"new"})
    with pytest.raises(ProofError):
        verify_proof(tree.root, b"k7", b"v7", present)  # stale proof against the new root
    verify_proof(old_root, b"k7", b"v7", present)  # but historic roots stay provable
    verify_proof(old_root, b"k7", b"v7", tree.smt.prove(old_ref, b"k7"))
    with pytest.raises(ProofError):
        verify_proof(b"\x01" * 32, b"k7", b"new", tree.prove(b"k7"))


def test_every_single_bit_flip_is_rejected():
    tree = Tree()
    tree.apply({b"k%d" % i: b"v%d" % i for i in range(100)})
    for key, value in [(b"k42", b"v42"), (b"missing", None), (b"missing2", None)]:
        proof = tree.prove(key)
        for pos in range(len(proof)):
            for shift in range(8):
                tampered = bytearray(proof)
                tampered[pos] ^= 1 << shift
                with pytest.raises(ProofError):
                    verify_proof(tree.root, key, value, bytes(tampered))


def test_decode_rejects_trailing_bytes_and_excess_depth():
    tree = Tree()
    tree.apply({b"a": b"1", b"b": b"2", b"c": b"3"})
    proof = tree.prove(b"a")
    assert proofs.encode(proofs.decode(proof)) == proof
    for bad in [proof + b"\x00", proof[:-1], b"", b"\x03\x00\x00", bytes([1]) + (257).to_bytes(2, "big")]:
        with pytest.raises(ProofError):
            proofs.decode(bad)
    # a non-empty sibling spelled as zeros, and a bitmap bit past the depth
    with pytest.raises(ProofError):
        proofs.decode(b"\x01\x00\x01\x80" + bytes(32))
    with pytest.raises(ProofError):
        proofs.decode(b"\x01\x00\x01\x40")


@settings(max_examples=2000, deadline=None)
@given(data=st.binary(max_size=200))
def test_decode_fuzz_only_raises_proof_error(data):
    try:
        decoded = proofs.decode(data)
    except ProofError:
        return
    assert proofs.encode(decoded) == data  # strict: one encoding per proof
    try:
        verify_proof(bytes(32), b"key", b"value", data)
    except ProofError:
        pass


@settings(max_examples=500, deadline=None)
@given(prefix=st.sampled_from([b"\x00", b"\x01", b"\x02"]), depth=st.integers(0, 300),
       body=st.binary(max_size=100))
def test_decode_fuzz_structured(prefix, depth, body):
    data = prefix + depth.to_bytes(2, "big") + body
    try:
        decoded = proofs.decode(data)
    except ProofError:
        return
    assert len(decoded.siblings) == depth <= proofs.MAX_DEPTH
    assert proofs.encode(decoded) == data


def test_missing_or_damaged_node_stops_cleanly():
    tree = Tree()
    tree.apply({b"k%d" % i: b"v" for i in range(20)})
    child = next(key for key in tree.nodes if len(key) == 9 and key[0] in (0x40, 0xC0))   # at depth 1
    tree.nodes[child] = b"\x00" + bytes(64)
    with pytest.raises(CorruptStore):
        tree.apply({b"k%d" % i: b"w" for i in range(20)})
    del tree.nodes[child]
    with pytest.raises(CorruptStore):
        tree.apply({b"k%d" % i: b"w" for i in range(20)})


def test_node_keys_name_one_position_and_version_each():
    """Distinct (path prefix, depth, version) never share a key, and a key's length tells its depth."""
    rng = random.Random(5)
    hashes = [bytes(32), b"\xff" * 32] + [rng.randbytes(32) for _ in range(6)]
    seen = {}
    for k_hash in hashes:
        for depth in range(257):
            prefix = int.from_bytes(k_hash, "big") >> (256 - depth) if depth else 0
            for version in (0, 1, 255, 256, 2**64 - 1):
                key = node_key(k_hash, depth, version)
                assert len(key) == depth // 8 + 9
                assert seen.setdefault(key, (depth, prefix, version)) == (depth, prefix, version)
