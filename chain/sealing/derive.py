"""Every hash, key derivation and associated-data string of the sealing format, in one place.

Sealing (client/seal.py) and opening (chain/sealing/open.py) both call these, so the two sides cannot
drift apart. Each hash starts with its own NUL-terminated domain tag, so no input of one can be read as
an input of another. All keys here are single-use (a fresh data key per seal, and the ephemeral X25519
key derived from it), which is why every AES-256-GCM nonce is twelve zero bytes.
"""
from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chain.codec import u64

VERSION = 2  # v1 (GF(2**255-19) shares, an HMAC plaintext commitment): docs/sealing.md "Format history"
HASH_BYTES = 32
KEY_BYTES = 32
X25519_BYTES = 32
TAG_BYTES = 16  # AES-GCM authentication tag
ZERO_NONCE = bytes(12)

TAG_CONTEXT = b"gradchain/sealing/v2/context\x00"
TAG_VALSET = b"gradchain/sealing/v2/valset\x00"
TAG_KEY = b"gradchain/sealing/v2/key\x00"
TAG_SHARE = b"gradchain/sealing/v2/share\x00"
INFO_SHARE_KEY = b"gradchain/sealing/v2/share-key\x00"
INFO_PAYLOAD_KEY = b"gradchain/sealing/v2/payload-key\x00"
INFO_EPHEMERAL = b"gradchain/sealing/v2/ephemeral\x00"
AAD_PAYLOAD = b"gradchain/sealing/v2/payload\x00"


def tagged_hash(tag: bytes, *parts: bytes) -> bytes:
    h = hashlib.sha256(tag)
    for part in parts:
        h.update(part)
    return h.digest()


def hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869) with no salt, i.e. a salt of 32 zero bytes."""
    return HKDF(algorithm=SHA256(), length=length, salt=None, info=info).derive(ikm)


def context_hash(context: bytes) -> bytes:
    return tagged_hash(TAG_CONTEXT, context)


def key_commitment(key: bytes) -> bytes:
    """H(K): binds the envelope to one data key, since AES-GCM alone would open under several."""
    return tagged_hash(TAG_KEY, key)


def share_commitment(validator_index: int, share: bytes) -> bytes:
    """Commits to one validator's share vector, so a released share can be checked on its own."""
    return tagged_hash(TAG_SHARE, u64(validator_index), share)


def share_key(shared_secret: bytes, *, context_hash: bytes, valset_hash: bytes, key_commitment: bytes,
              ephemeral_pubkey: bytes, validator_pubkey: bytes, validator_index: int) -> bytes:
    """The AES-256-GCM key of one validator's encrypted shares, from the X25519 shared secret."""
    info = (INFO_SHARE_KEY + context_hash + valset_hash + key_commitment + ephemeral_pubkey + validator_pubkey
            + u64(validator_index))
    return hkdf(shared_secret, info, KEY_BYTES)


def ephemeral_private(key: bytes, context_hash: bytes) -> bytes:
    """The ephemeral X25519 private key e, derived from the data key K rather than drawn at random. Once K is
    known (at opening, or when a trainer proves withholding) anyone can recompute e and check every
    validator's encrypted shares, so a missing share is provably the trainer's fault or the validator's
    (docs/sealing.md section 9). K stays the only secret: e reveals nothing K does not."""
    return hkdf(key, INFO_EPHEMERAL + context_hash, X25519_BYTES)


def payload_key(key: bytes, context_hash: bytes) -> bytes:
    """The payload's AES-256-GCM key, from the data key K."""
    return hkdf(key, INFO_PAYLOAD_KEY + context_hash, KEY_BYTES)


def payload_aad(*, context_hash: bytes, valset_hash: bytes, key_commitment: bytes) -> bytes:
    """The payload's associated data. Opening first checks H(K) == key_commitment, which fixes the key (AES-GCM
    alone is not key-committing); H(K) is bound here too. For one key, nonce, AAD and ciphertext (on chain)
    there is at most one plaintext, so no separate plaintext commitment is needed (v1 had an HMAC over the
    whole update, which cost 4x the encryption)."""
    return AAD_PAYLOAD + context_hash + valset_hash + key_commitment
