"""Deterministic, bit-exact scoring of fixed-point models (docs/scoring.md).

Pure consensus code: integers in, integers out; numpy float64 BLAS only under the exactness rule.
"""
from chain.scoring.kernel import Forward, Score, forward, score, score_shard
from chain.scoring.shards import (MerkleProof, Shard, encode_shard, load_shard, merkle_proof, merkle_root,
                                  shard_hash, verify_shard_proof)
from chain.scoring.spec import FixedPoint, Layer, ModelSpec, load_spec, spec_hash, validate_spec
from chain.scoring.weights import encode_weights, load_weights

__all__ = [
    "FixedPoint", "Forward", "Layer", "MerkleProof", "ModelSpec", "Score", "Shard",
    "encode_shard", "encode_weights", "forward", "load_shard", "load_spec", "load_weights",
    "merkle_proof", "merkle_root", "score", "score_shard", "shard_hash", "spec_hash",
    "validate_spec", "verify_shard_proof",
]
