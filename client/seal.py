"""Sealing a model update for a round (docs/sealing.md). The only part of sealing that needs randomness.

    from client.seal import seal, seal_context
    context = seal_context(chain_id, model_id, round, trainer_address)
    envelope = seal(update_bytes, [(index, x25519_pubkey, power), ...], context)
    raw = envelope.encode()          # goes into the round's submit message

A fresh data key K encrypts the update (AES-256-GCM); K is split with Shamir's scheme over GF(65521), limb
by limb (chain/sealing/field.py), each validator getting shares in proportion to its voting power, and each validator's shares are encrypted
to its X25519 key. Until validators with >= 2/3 of the set's power release their shares, nobody, the
validators included, can read the update.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import numpy as np

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.sealing.errors import EnvelopeTooLarge
from chain.sealing import derive
from chain.sealing.envelope import MAX_PAYLOAD_BYTES, SealedShare, SealedUpdate, seal_context
from chain.sealing.field import LIMBS, PRIME
from chain.sealing.valset import DEFAULT_MAX_TOTAL_SHARES, TWO_THIRDS, SealValidator, SharePlan, share_plan

__all__ = ["SealedUpdate", "random_secret", "seal", "seal_context", "seal_with_key", "split"]

RandomBytes = Callable[[int], bytes]


def seal(plaintext: bytes, validators: Iterable[SealValidator | tuple[int, bytes, int]], context: bytes, *,
         threshold: tuple[int, int] = TWO_THIRDS, max_total_shares: int = DEFAULT_MAX_TOTAL_SHARES,
         random_bytes: RandomBytes = os.urandom) -> SealedUpdate:
    """Seal `plaintext` to the validator set [(index, X25519 public key, voting power), ...] for `context`
    (seal_context(...) bytes). `threshold` and `max_total_shares` must be the chain's: the chain rejects an
    envelope whose share plan differs from the one it computes. `random_bytes` exists for test vectors."""
    return seal_with_key(plaintext, validators, context, threshold=threshold, max_total_shares=max_total_shares,
                         random_bytes=random_bytes)[0]


def seal_with_key(plaintext: bytes, validators: Iterable[SealValidator | tuple[int, bytes, int]], context: bytes,
                  *, threshold: tuple[int, int] = TWO_THIRDS, max_total_shares: int = DEFAULT_MAX_TOTAL_SHARES,
                  random_bytes: RandomBytes = os.urandom) -> tuple[SealedUpdate, bytes]:
    """`seal`, also returning the 32-byte data key K. Keep K secret: it opens the update. A trainer needs it
    only to prove that validators withheld its shares after a round voided it (docs/rounds.md,
    "Withholding"); proving publishes K, and so the update."""
    if len(plaintext) > MAX_PAYLOAD_BYTES:
        raise EnvelopeTooLarge(f"the update is {len(plaintext)} bytes; at most {MAX_PAYLOAD_BYTES} can be sealed")
    plan = share_plan(validators, max_total_shares=max_total_shares, threshold=threshold)
    key = random_secret(random_bytes)
    shares = split(key, plan, random_bytes)
    return assemble(plaintext, plan, context, key, shares), key


def random_limbs(count: int, random_bytes: RandomBytes) -> np.ndarray:
    """`count` values uniform below q, by rejection in bulk: draw 2 bytes per missing value, keep (in order)
    the big-endian values below q, repeat until there are `count` (a value is rejected 1 time in 4,370)."""
    out = np.empty(0, dtype=np.int64)
    while out.size < count:
        drawn = np.frombuffer(random_bytes(2 * (count - out.size)), dtype=">u2").astype(np.int64)
        out = np.concatenate((out, drawn[drawn < PRIME]))
    return out


def random_secret(random_bytes: RandomBytes) -> bytes:
    """A data key K: one uniform field element (16 limbs below q, 2 bytes each, big-endian)."""
    return random_limbs(LIMBS, random_bytes).astype(">u2").tobytes()


def split(key: bytes, plan: SharePlan, random_bytes: RandomBytes) -> dict[int, bytes]:
    """Shamir shares of `key`: for each limb a random polynomial of degree threshold-1 whose constant term is
    the limb, evaluated at x = 1, 2, ... in the plan's entry order. The coefficients are drawn row by row
    (all 16 limbs of a_1, then of a_2, ...). Returns validator index -> its share vector (count x 32 bytes).

    One float64 product shares[x] = V[x] @ C, exact whatever the BLAS: every entry of V (x**j mod q) and of
    C is below 2**16, so each term is below 2**32 and a sum of at most 1,024 terms below 2**42 < 2**53."""
    secret = np.frombuffer(key, dtype=">u2")
    if secret.size != LIMBS or int(secret.max()) >= PRIME:
        raise ValueError("the key is not a field element")
    rows = plan.threshold - 1
    coefficients = np.empty((plan.threshold, LIMBS), dtype=np.float64)
    coefficients[0] = secret
    coefficients[1:] = random_limbs(rows * LIMBS, random_bytes).reshape(rows, LIMBS)
    total = sum(count for _, count in plan.entries())
    values = (_vandermonde(total, plan.threshold) @ coefficients).astype(np.int64) % PRIME
    encoded = values.astype(">u2").tobytes()
    shares, x = {}, 0
    for index, count in plan.entries():
        shares[index] = encoded[x * 32:(x + count) * 32]
        x += count
    return shares


@lru_cache(maxsize=8)
def _vandermonde(n: int, t: int) -> np.ndarray:
    """V[i, j] = (i + 1)**j mod q as float64 (exact integers), for n share points and t coefficients:
    powers below 32 by repeated products, then blocks of 32 scaled by x**(32 k)."""
    x = np.arange(1, n + 1, dtype=np.int64)[:, None]
    low = np.ones((n, 32), dtype=np.int64)
    for j in range(1, 32):
        low[:, j] = low[:, j - 1] * x[:, 0] % PRIME
    step = low[:, 31] * x[:, 0] % PRIME                      # x**32
    blocks = -(-t // 32)
    high = np.ones((n, blocks), dtype=np.int64)
    for k in range(1, blocks):
        high[:, k] = high[:, k - 1] * step % PRIME
    table = (high[:, :, None] * low[:, None, :] % PRIME).reshape(n, blocks * 32)[:, :t]
    out = table.astype(np.float64)
    out.flags.writeable = False
    return out


def assemble(plaintext: bytes, plan: SharePlan, context: bytes, key: bytes, shares: Mapping[int, bytes],
             ephemeral_private: bytes | None = None) -> SealedUpdate:
    """The envelope for given key material. Public so tests can build envelopes a dishonest trainer would
    (shares of different keys, an ephemeral key not derived from K); honest callers use `seal`, which
    derives the ephemeral key from K (derive.ephemeral_private)."""
    ctx_hash = derive.context_hash(context)
    if ephemeral_private is None:
        ephemeral_private = derive.ephemeral_private(key, ctx_hash)
    commitment = derive.key_commitment(key)
    ephemeral = X25519PrivateKey.from_private_bytes(ephemeral_private)
    ephemeral_pubkey = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    pubkeys = {v.index: v.encryption_pubkey for v in plan.validators}
    entries = []
    for index, count in plan.entries():
        share = shares[index]
        secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(pubkeys[index]))
        share_key = derive.share_key(secret, context_hash=ctx_hash, valset_hash=plan.valset_hash,
                                     key_commitment=commitment, ephemeral_pubkey=ephemeral_pubkey,
                                     validator_pubkey=pubkeys[index], validator_index=index)
        entries.append(SealedShare(validator_index=index, count=count,
                                   commitment=derive.share_commitment(index, share),
                                   ciphertext=AESGCM(share_key).encrypt(derive.ZERO_NONCE, share, b"")))
    aad = derive.payload_aad(context_hash=ctx_hash, valset_hash=plan.valset_hash, key_commitment=commitment)
    return SealedUpdate(version=derive.VERSION, context_hash=ctx_hash, valset_hash=plan.valset_hash,
                        threshold=plan.threshold, key_commitment=commitment, ephemeral_pubkey=ephemeral_pubkey,
                        shares=tuple(entries),
                        ciphertext=AESGCM(derive.payload_key(key, ctx_hash)).encrypt(derive.ZERO_NONCE, plaintext, aad))
