"""The Merkle commitment over shard hashes: every leaf proves, nothing else does."""
import dataclasses
import hashlib

import pytest

from chain.scoring.errors import InvalidMerkleProof
from chain.scoring.shards import MerkleProof, decode_proof, merkle_proof, merkle_root, verify_shard_proof


def hashes(n):
    return [hashlib.sha256(b"shard %d" % i).digest() for i in range(n)]


def test_known_roots():
    h = hashes(3)
    leaf = [hashlib.sha256(b"\x00" + x).digest() for x in h]
    node = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()  # noqa: E731
    assert merkle_root(h[:1]) == leaf[0]
    assert merkle_root(h[:2]) == node(leaf[0], leaf[1])
    assert merkle_root(h) == node(node(leaf[0], leaf[1]), leaf[2])  # RFC 6962 split: no duplicated leaf


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_every_leaf_proves_and_round_trips(n):
    h = hashes(n)
    root = merkle_root(h)
    for i in range(n):
        proof = merkle_proof(h, i)
        verify_shard_proof(root, n, h[i], decode_proof(proof.encode()))
        with pytest.raises(InvalidMerkleProof):
            verify_shard_proof(root, n, hashes(n + 1)[n], proof)              # another shard
        if n > 1:
            with pytest.raises(InvalidMerkleProof):
                verify_shard_proof(root, n, h[i], dataclasses.replace(proof, index=(i + 1) % n))
            with pytest.raises(InvalidMerkleProof):
                verify_shard_proof(root, n, h[i], dataclasses.replace(proof, siblings=proof.siblings[:-1]))
            with pytest.raises(InvalidMerkleProof):
                verify_shard_proof(root, n, h[i], dataclasses.replace(proof, count=n + 1))


def test_bad_proof_shapes():
    h = hashes(4)
    root = merkle_root(h)
    proof = merkle_proof(h, 2)
    verify_shard_proof(root, 4, h[2], proof)
    with pytest.raises(InvalidMerkleProof):
        verify_shard_proof(root, 5, h[2], proof)  # the commitment's count rules
    for bad in (dataclasses.replace(proof, index=4), dataclasses.replace(proof, siblings=proof.siblings + (b"\x00" * 32,)),
                dataclasses.replace(proof, siblings=(b"\x00" * 31,) + proof.siblings[1:]), MerkleProof(count=0)):
        with pytest.raises(InvalidMerkleProof):
            verify_shard_proof(root, 4, h[2], bad)
    with pytest.raises(InvalidMerkleProof):
        decode_proof(proof.encode() + b"\x01")
    assert merkle_root(h) != merkle_root(h[:3] + h[3:] * 2)  # appending a duplicate changes the root
