"""Masks for secure aggregation in Z_(2^64), double-masked as in Bonawitz et al. 2017 (and Flower's SecAgg+).

Member i of a cohort holds a fresh X25519 round key (sk_i, pk_i) and a random 32-byte self seed b_i; the
private halves are sealed to the validator set at join (docs/sealing.md). It submits

    y_i = x_i + PRG(b_i) + sum_{j > i} PRG(s_ij) - sum_{j < i} PRG(s_ij)      (mod 2^64)

where x_i is its fixed-point delta flattened to one int64 vector (as uint64) and s_ij a key derived from
X25519(sk_i, pk_j) = X25519(sk_j, pk_i). In the sum over the members S that submitted, the pair masks of
two submitters cancel. What is left is removed with secrets released by validators after the deadline:
b_i for every i in S, and sk_j for every dropout j (the pair masks between j and S). Never both for the
same member: a dropout's y_j may have been seen (a delayed tx), and with only sk_j released it stays
hidden under PRG(b_j). The chain decides S from committed submissions, so the choice is the same on every
node.

PRG: AES-256-CTR over zero bytes with a single-use key and a zero counter block, read as little-endian
uint64. numpy's uint64 arithmetic wraps mod 2^64, which is the group here (no floats, no overflow checks).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chain.codec import u64
from chain.secagg.errors import SecaggError

INFO_PAIR = b"gradchain/secagg/v1/pair\x00"
INFO_SELF = b"gradchain/secagg/v1/self\x00"
SEED_BYTES = 32
# A masked update travels in one tx as 8 bytes per parameter. Through CometBFT's RPC a tx travels base64
# in a request body of at most 1,000,000 bytes (rpc.max_body_bytes): about 740 KB of tx (docs/registry.md),
# so an aggregate-mode model has at most MAX_MASKED_BYTES / 8 = 90,000 parameters.
MAX_MASKED_BYTES = 720_000
_ZERO_BLOCK = bytes(16)


def context(chain_id: str, model_id: int, round_: int, cohort: int) -> bytes:
    """What every key of one cohort is bound to: masks of one cohort never cancel in another."""
    name = chain_id.encode()
    return u64(len(name)) + name + u64(model_id, round_, cohort)


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(ikm)


def stream(key: bytes, n: int) -> np.ndarray:
    """n pseudo-random uint64 from a 32-byte single-use key."""
    if len(key) != 32:
        raise SecaggError("a PRG key is 32 bytes")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(_ZERO_BLOCK)).encryptor()
    return np.frombuffer(encryptor.update(bytes(8 * n)) + encryptor.finalize(), dtype="<u8").astype(np.uint64)


def pair_key(shared_secret: bytes, ctx: bytes, a: int, b: int) -> bytes:
    low, high = min(a, b), max(a, b)
    return _hkdf(shared_secret, INFO_PAIR + ctx + u64(low, high))


def self_key(seed: bytes, ctx: bytes, index: int) -> bytes:
    if len(seed) != SEED_BYTES:
        raise SecaggError(f"a self-mask seed is {SEED_BYTES} bytes")
    return _hkdf(seed, INFO_SELF + ctx + u64(index))


def public_key(private_key: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def check_public_key(public: bytes) -> None:
    """A round public key must give a shared secret: a low-order point (all-zero secret) or a wrong length
    is refused, so no member's pair masks can be known to everyone."""
    if len(public) != 32:
        raise SecaggError("a round public key is 32 bytes")
    _shared(bytes(31) + b"\x40", public)


def _shared(private_key: bytes, peer_public: bytes) -> bytes:
    try:
        secret = X25519PrivateKey.from_private_bytes(private_key).exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        raise SecaggError("no X25519 shared secret (a low-order or malformed round key)") from None
    return secret


def _pair_mask(private_key: bytes, peer_public: bytes, ctx: bytes, me: int, peer: int, n: int) -> np.ndarray:
    """What member `me` adds for its pair with `peer`: +PRG if me < peer, else -PRG."""
    m = stream(pair_key(_shared(private_key, peer_public), ctx, me, peer), n)
    return m if me < peer else np.negative(m)   # negation in Z_(2^64)


def member_mask(index: int, private_key: bytes, self_seed: bytes, pubkeys: Mapping[int, bytes], ctx: bytes,
                n: int) -> np.ndarray:
    """Member `index`'s total mask: its self mask plus its signed pair masks with every other member of
    `pubkeys` (cohort index -> round public key, itself included)."""
    if index not in pubkeys:
        raise SecaggError(f"member {index} is not in the cohort")
    total = stream(self_key(self_seed, ctx, index), n)
    for peer in sorted(pubkeys):
        if peer != index:
            total = total + _pair_mask(private_key, pubkeys[peer], ctx, index, peer, n)
    return total


def flatten(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """A delta's tensors as one int64 vector, in tensor order (row-major)."""
    return np.concatenate([np.asarray(a, dtype=np.int64).ravel() for a in arrays]) if arrays else np.zeros(0, np.int64)


def unflatten(vector: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    out, at = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        out.append(vector[at:at + size].reshape(shape))
        at += size
    if at != len(vector):
        raise SecaggError(f"vector of {len(vector)} values for tensors of {at}")
    return tuple(out)


def mask(delta: np.ndarray, member_mask_: np.ndarray) -> np.ndarray:
    """y = x + mask (mod 2^64), x an int64 vector."""
    if delta.shape != member_mask_.shape:
        raise SecaggError("the mask and the delta differ in length")
    return delta.astype(np.int64).view(np.uint64) + member_mask_


def unmask_sum(masked: Mapping[int, np.ndarray], self_seeds: Mapping[int, bytes],
               dropout_keys: Mapping[int, bytes], pubkeys: Mapping[int, bytes], ctx: bytes) -> np.ndarray:
    """sum of x_i over the submitters (the keys of `masked`) as int64, from their masked vectors, their
    self seeds, and the round private keys of the dropouts (members of `pubkeys` that did not submit).
    Requires exactly that: a seed for each submitter and a key for each dropout, nothing else."""
    submitters, members = sorted(masked), set(pubkeys)
    dropouts = sorted(members - set(submitters))
    if not submitters or not set(submitters) <= members:
        raise SecaggError("submitters must be a non-empty subset of the cohort")
    if set(self_seeds) != set(submitters) or set(dropout_keys) != set(dropouts):
        raise SecaggError("need the self seed of every submitter and the round key of every dropout, and no other")
    n = len(masked[submitters[0]])
    if any(len(v) != n for v in masked.values()):
        raise SecaggError("masked vectors differ in length")
    total = np.zeros(n, dtype=np.uint64)
    for i in submitters:
        total = total + masked[i] - stream(self_key(self_seeds[i], ctx, i), n)
    for j in dropouts:
        if public_key(dropout_keys[j]) != pubkeys[j]:
            raise SecaggError(f"the released key of dropout {j} does not match its round public key")
        for i in submitters:   # member i added its pair mask with j; derive it from j's side and take it out
            total = total - _pair_mask(dropout_keys[j], pubkeys[i], ctx, i, j, n)
    return total.view(np.int64)


def decode_vector(raw: bytes) -> np.ndarray:
    """A masked vector's canonical bytes (little-endian uint64, 8 per parameter) as uint64."""
    if len(raw) % 8:
        raise SecaggError("a masked vector is 8 bytes per value")
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def mean_of_sum(total: np.ndarray, n: int) -> np.ndarray:
    """total / n element-wise, rounded half to even: FedAvg's rounding (chain/rounds/delta.mean_half_even)
    applied to a sum that secure aggregation produced whole."""
    total = total.astype(np.int64)
    q = total // n
    r = total - q * n                              # 0 <= r < n
    up = (2 * r > n) | ((2 * r == n) & (q % 2 == 1))
    return q + up.astype(np.int64)

