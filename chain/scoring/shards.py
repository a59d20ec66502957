"""Validation shards and the Merkle root that commits to them.

    message Shard { Tensor inputs = 1; Tensor labels = 2; }

inputs: shape (N, *input_shape), integers at the spec's input format; labels: shape (N,), class
indices. shard_hash = SHA-256 of the canonical shard bytes.

The owner commits to shard hashes with a binary Merkle tree in the RFC 6962 / 9162 shape (no
duplicated nodes, so no two leaf lists share a root), with domain-separated hashing:
    leaf = SHA-256(0x00 || shard_hash),  node = SHA-256(0x01 || left || right),
and a list of n > 1 leaves splits at k, the largest power of two below n. A proof for leaf `index`
of `count` is the list of sibling hashes from the leaf up (RFC 9162 section 2.1.3.2 verification).

    message MerkleProof { uint64 index = 1; uint64 count = 2; repeated bytes siblings = 3; }
"""
from __future__ import annotations

import hashlib

import numpy as np

from chain.scoring.errors import InvalidMerkleProof, InvalidShard, ShardDecodeError, ShardTooLarge
from chain.scoring.fixedpoint import signed_range
from chain.scoring.spec import ModelSpec, num_classes
from chain.scoring.tensor import Tensor, array_from_tensor, decode_message, tensor_from_array
from chain.tx.wire import Field, Message, message

HASH_LEN = 32
MAX_PROOF_DEPTH = 64


@message
class Shard(Message):
    inputs: Tensor | None = None
    labels: Tensor | None = None
    SCHEMA = (Field(1, "inputs", "message", Tensor), Field(2, "labels", "message", Tensor))


@message
class MerkleProof(Message):
    index: int = 0
    count: int = 0
    siblings: tuple[bytes, ...] = ()
    SCHEMA = (Field(1, "index", "uint64"), Field(2, "count", "uint64"), Field(3, "siblings", "bytes", repeated=True))


def encode_shard(inputs, labels) -> bytes:
    return Shard(inputs=tensor_from_array(inputs), labels=tensor_from_array(labels)).encode()


def shard_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def load_shard(raw: bytes, spec: ModelSpec, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode shard bytes and check them against a validated spec. Returns (inputs, labels) as int64."""
    shard = decode_message(Shard, raw, ShardDecodeError)
    if shard.labels is not None and len(shard.labels.shape) == 1 and shard.labels.shape[0] > max_samples:
        raise ShardTooLarge(f"shard has {shard.labels.shape[0]} samples, the limit is {max_samples}")
    inputs, labels = shard_arrays(shard)
    validate_samples(spec, inputs, labels)
    return inputs, labels


def validate_samples(spec: ModelSpec, inputs: np.ndarray, labels: np.ndarray) -> None:
    if labels.ndim != 1 or inputs.shape != (labels.shape[0], *spec.input_shape):
        raise InvalidShard(f"inputs {inputs.shape} and labels {labels.shape} must be (N, "
                           f"{', '.join(map(str, spec.input_shape))}) and (N,)")
    if inputs.dtype != np.int64 or labels.dtype != np.int64:
        raise InvalidShard("inputs and labels must be int64 arrays")
    lo, hi = signed_range(spec.input_format.bits)
    if int(inputs.min()) < lo or int(inputs.max()) > hi:
        raise InvalidShard(f"inputs must lie in [{lo}, {hi}] ({spec.input_format.bits}-bit)")
    classes = num_classes(spec)
    if int(labels.min()) < 0 or int(labels.max()) >= classes:
        raise InvalidShard(f"labels must lie in [0, {classes})")


# --- Merkle commitment over shard hashes -----------------------------------------------------------
def _leaf(h: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + h).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)  # largest power of two < n (n >= 2)


def merkle_root(shard_hashes: list[bytes]) -> bytes:
    if not shard_hashes or any(len(h) != HASH_LEN for h in shard_hashes):
        raise ValueError("need at least one 32-byte shard hash")
    return _root([_leaf(h) for h in shard_hashes])


def _root(nodes: list[bytes]) -> bytes:
    if len(nodes) == 1:
        return nodes[0]
    k = _split(len(nodes))
    return _node(_root(nodes[:k]), _root(nodes[k:]))


def merkle_proof(shard_hashes: list[bytes], index: int) -> MerkleProof:
    if not 0 <= index < len(shard_hashes):
        raise ValueError(f"index {index} outside 0..{len(shard_hashes) - 1}")
    leaves = [_leaf(h) for h in shard_hashes]
    siblings: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:  # walk down, recording the other half's root, then report bottom-up
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append(_root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            siblings.append(_root(leaves[lo:lo + k]))
            lo = lo + k
    return MerkleProof(index=index, count=len(shard_hashes), siblings=tuple(reversed(siblings)))


def verify_shard_proof(root: bytes, count: int, shard_hash_: bytes, proof: MerkleProof) -> None:
    """Raise InvalidMerkleProof unless `shard_hash_` sits at proof.index among the `count` committed leaves
    under `root`. The count comes from the commitment, never from the proof: one path can fit trees of
    several sizes."""
    if proof.count != count:
        raise InvalidMerkleProof(f"proof is for {proof.count} shards, the commitment has {count}")
    if not 0 <= proof.index < proof.count or len(proof.siblings) > MAX_PROOF_DEPTH:
        raise InvalidMerkleProof(f"index {proof.index} is not below count {proof.count}, or the proof is too long")
    if len(shard_hash_) != HASH_LEN or any(len(s) != HASH_LEN for s in proof.siblings):
        raise InvalidMerkleProof("hashes must be 32 bytes")
    fn, sn = proof.index, proof.count - 1
    node = _leaf(shard_hash_)
    for sibling in proof.siblings:  # RFC 9162 2.1.3.2
        if sn == 0:
            raise InvalidMerkleProof("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            node = _node(sibling, node)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            node = _node(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or node != root:
        raise InvalidMerkleProof("the shard is not the committed leaf at that index")


def decode_proof(raw: bytes) -> MerkleProof:
    return decode_message(MerkleProof, raw, InvalidMerkleProof)


def shard_arrays(shard: Shard) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) of a decoded Shard message, without spec checks."""
    if shard.inputs is None or shard.labels is None:
        raise ShardDecodeError("a shard needs both inputs and labels")
    return array_from_tensor(shard.inputs, ShardDecodeError), array_from_tensor(shard.labels, ShardDecodeError)
