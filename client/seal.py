"""Sealing a model update for a round (docs/sealing.md). The only part of sealing that needs randomness.

    from client.seal import seal, seal_context
    context = seal_context(chain_id, model_id, round, trainer_address)
    envelope = seal(update_bytes, [(index, x25519_pubkey, power), ...], context)
    raw = envelope.encode()          # goes into the round's submit message

A fresh data key K encrypts the update (AES-256-GCM); K is split with Shamir's scheme over GF(2**255-19),
each validator getting shares in proportion to its voting power, and each validator's shares are encrypted
to its X25519 key. Until validators with >= 2/3 of the set's power release their shares, nobody, the
validators included, can read the update.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.sealing.errors import EnvelopeTooLarge
from chain.sealing import derive
from chain.sealing.envelope import MAX_PAYLOAD_BYTES, SealedShare, SealedUpdate, seal_context
from chain.sealing.field import PRIME, encode_element, evaluate
from chain.sealing.valset import DEFAULT_MAX_TOTAL_SHARES, TWO_THIRDS, SealValidator, SharePlan, share_plan

__all__ = ["SealedUpdate", "seal", "seal_context", "seal_with_key"]

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
    secret = random_element(random_bytes)
    shares = split(secret, plan, random_bytes)
    key = encode_element(secret)
    return assemble(plaintext, plan, context, key, shares), key


def random_element(random_bytes: RandomBytes) -> int:
    """Uniform in GF(p), by rejection: 255 random bits, redrawn in the rare case (2**-250) they reach p."""
    while True:
        value = int.from_bytes(random_bytes(32), "big") & ((1 << 255) - 1)
        if value < PRIME:
            return value


def split(secret: int, plan: SharePlan, random_bytes: RandomBytes) -> dict[int, bytes]:
    """Shamir shares of `secret`: a random polynomial of degree threshold-1 with f(0) = secret, evaluated at
    x = 1, 2, ... in the plan's entry order. Returns validator index -> its share vector (count x 32 bytes)."""
    coefficients = [secret] + [random_element(random_bytes) for _ in range(plan.threshold - 1)]
    shares, x = {}, 1
    for index, count in plan.entries():
        shares[index] = b"".join(encode_element(evaluate(coefficients, x + k)) for k in range(count))
        x += count
    return shares


def assemble(plaintext: bytes, plan: SharePlan, context: bytes, key: bytes, shares: Mapping[int, bytes],
             ephemeral_private: bytes | None = None, *, plaintext_commitment: bytes | None = None) -> SealedUpdate:
    """The envelope for given key material. Public so tests can build envelopes a dishonest trainer would
    (shares of different keys, a false plaintext commitment, an ephemeral key not derived from K); honest
    callers use `seal`, which derives the ephemeral key from K (derive.ephemeral_private)."""
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
    payload_key, mac_key = derive.data_keys(key, ctx_hash)
    if plaintext_commitment is None:
        plaintext_commitment = derive.plaintext_commitment(mac_key, plaintext)
    aad = derive.payload_aad(context_hash=ctx_hash, valset_hash=plan.valset_hash, key_commitment=commitment,
                             plaintext_commitment=plaintext_commitment)
    return SealedUpdate(version=derive.VERSION, context_hash=ctx_hash, valset_hash=plan.valset_hash,
                        threshold=plan.threshold, key_commitment=commitment,
                        plaintext_commitment=plaintext_commitment, ephemeral_pubkey=ephemeral_pubkey,
                        shares=tuple(entries),
                        ciphertext=AESGCM(payload_key).encrypt(derive.ZERO_NONCE, plaintext, aad))
