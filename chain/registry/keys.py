"""Every key the registry module owns. Ids, versions, rounds, heights and indices are 8-byte big-endian,
so keys sort numerically."""
from __future__ import annotations

from chain.codec import u64   # the keepers write keys.u64 too

PARAMS = b"reg/params"       # -> RegistryParams (canonical JSON record)
COUNTERS = b"reg/counters"   # -> {"next_model_id"} (canonical JSON record)
MODEL = b"reg/m/"            # + model id -> model record (canonical JSON)
SPEC = b"reg/spec/"          # + model id -> canonical spec bytes
CHUNK = b"reg/w/"            # + model id + version + chunk index -> a slice of the version's weight bytes
VERSION = b"reg/v/"          # + model id + version -> version record (parent, weights hash and size)
SCORE = b"reg/sc/"           # + model id + version + round -> canonical Score bytes
SHARD = b"reg/sh/"           # + model id + shard index -> revealed shard bytes (kept for audit)
REVEAL = b"reg/r/"           # + model id + round -> reveal record (shard index, height)
EXPIRY = b"reg/x/"           # + expiry height + model id -> b"\x01"; open models only
OWNER = b"reg/o/"            # + owner address (20 bytes) + model id -> b"\x01"; open models only (the per-owner cap)


def model_key(model_id: int) -> bytes:
    return MODEL + u64(model_id)


def spec_key(model_id: int) -> bytes:
    return SPEC + u64(model_id)


def chunks_prefix(model_id: int, version: int) -> bytes:
    return CHUNK + u64(model_id) + u64(version)


def chunk_key(model_id: int, version: int, index: int) -> bytes:
    return chunks_prefix(model_id, version) + u64(index)


def versions_prefix(model_id: int) -> bytes:
    return VERSION + u64(model_id)


def version_key(model_id: int, version: int) -> bytes:
    return versions_prefix(model_id) + u64(version)


def scores_prefix(model_id: int, version: int) -> bytes:
    return SCORE + u64(model_id) + u64(version)


def score_key(model_id: int, version: int, round_: int) -> bytes:
    return scores_prefix(model_id, version) + u64(round_)


def shard_key(model_id: int, index: int) -> bytes:
    return SHARD + u64(model_id) + u64(index)


def reveals_prefix(model_id: int) -> bytes:
    return REVEAL + u64(model_id)


def reveal_key(model_id: int, round_: int) -> bytes:
    return reveals_prefix(model_id) + u64(round_)


def expiry_key(height: int, model_id: int) -> bytes:
    return EXPIRY + u64(height) + u64(model_id)


def owner_prefix(owner: bytes) -> bytes:
    return OWNER + owner


def owner_key(owner: bytes, model_id: int) -> bytes:
    return owner_prefix(owner) + u64(model_id)
