"""Opening a sealed update: a validator's share, its check, the key's rebuild and the payload's decryption.

Pure and deterministic. The one rule that keeps every node's verdict identical is in `reconstruct`: the
key is rebuilt from the first `threshold` valid shares in envelope order (ascending validator index, then
x coordinate), and if that key misses the key commitment nothing else is tried. The released shares are
chain data, so every node picks the same subset and reaches the same verdict, even for an envelope whose
shares were deliberately drawn from different keys.
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.sealing.errors import (EphemeralKeyMismatch, KeyCommitmentMismatch, NotEnoughShares,
                                  PayloadDecryptionFailed, ShareDecryptionFailed, ShareMismatch, UndecryptableShare)
from chain.sealing import derive
from chain.sealing.envelope import SealedShare, SealedUpdate, check_context, share_xs, validate_envelope
from chain.sealing.field import ELEMENT_BYTES, decode_limbs, interpolate_at_zero


def decrypt_share(validator_private_key: bytes, envelope: SealedUpdate, validator_index: int) -> bytes:
    """Node side, when releasing: this validator's share vector (count x 32 bytes), checked against its
    commitment. Raises ShareDecryptionFailed or ShareMismatch; then the validator has nothing to release."""
    validate_envelope(envelope)
    entry = _entry(envelope, validator_index)
    if entry is None:
        raise ShareDecryptionFailed(f"the envelope holds no shares for validator {validator_index}")
    try:
        private = X25519PrivateKey.from_private_bytes(validator_private_key)
        secret = private.exchange(X25519PublicKey.from_public_bytes(envelope.ephemeral_pubkey))
    except ValueError:
        raise ShareDecryptionFailed("no X25519 shared secret with the envelope's ephemeral key") from None
    own_pubkey = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = derive.share_key(secret, context_hash=envelope.context_hash, valset_hash=envelope.valset_hash,
                           key_commitment=envelope.key_commitment, ephemeral_pubkey=envelope.ephemeral_pubkey,
                           validator_pubkey=own_pubkey, validator_index=validator_index)
    try:
        share = AESGCM(key).decrypt(derive.ZERO_NONCE, entry.ciphertext, b"")
    except InvalidTag:
        raise ShareDecryptionFailed(f"validator {validator_index}'s shares do not decrypt under its key") from None
    check_share(envelope, validator_index, share)
    return share


def check_share(envelope: SealedUpdate, validator_index: int, share: bytes) -> None:
    """A released share vector is exactly what the envelope committed to for this validator."""
    entry = _entry(envelope, validator_index)
    if entry is None:
        raise ShareMismatch(f"validator {validator_index} holds no shares of this envelope")
    if len(share) != entry.count * ELEMENT_BYTES:
        raise ShareMismatch(f"validator {validator_index} holds {entry.count} shares ({entry.count * 32} bytes), "
                            f"got {len(share)} bytes")
    if decode_limbs(share) is None:
        raise ShareMismatch(f"validator {validator_index}: a share is not a field element (a limb of 65521 or more)")
    if not hmac.compare_digest(derive.share_commitment(validator_index, share), entry.commitment):
        raise ShareMismatch(f"validator {validator_index}'s share does not match its commitment")


def verify_share(envelope: SealedUpdate, validator_index: int, share: bytes) -> bool:
    try:
        check_share(envelope, validator_index, share)
    except ShareMismatch:
        return False
    return True


def valid_share_count(envelope: SealedUpdate, released: Mapping[int, bytes]) -> int:
    """How many shares of `released` pass their commitments: compare with envelope.threshold."""
    return sum(e.count for e in envelope.shares
               if e.validator_index in released and verify_share(envelope, e.validator_index,
                                                                 released[e.validator_index]))


def reconstruct(envelope: SealedUpdate, released: Mapping[int, bytes]) -> bytes:
    """The data key from released shares (validator index -> share vector), by the deterministic subset
    rule: walk the entries in envelope order, skip any share that fails its commitment, take the first
    `threshold` shares, interpolate, and require H(key) == key_commitment. Mapping order is never read."""
    validate_envelope(envelope)
    xs: list[int] = []
    ys: list[bytes] = []
    for entry, entry_xs in zip(envelope.shares, share_xs(envelope)):
        share = released.get(entry.validator_index)
        if share is None or not verify_share(envelope, entry.validator_index, share):
            continue
        xs.extend(entry_xs)
        ys.append(share)
        if len(xs) >= envelope.threshold:
            break
    if len(xs) < envelope.threshold:
        raise NotEnoughShares(f"{len(xs)} valid shares released; {envelope.threshold} needed")
    t = envelope.threshold
    key = interpolate_at_zero(xs[:t], b"".join(ys)[:t * ELEMENT_BYTES])
    if derive.key_commitment(key) != envelope.key_commitment:
        raise KeyCommitmentMismatch("the shares rebuild a key that misses the key commitment: the update's "
                                    "shares are inconsistent")
    return key


def open_update(envelope: SealedUpdate, key: bytes, context: bytes) -> bytes:
    """The plaintext, after checking the context, H(key) and the AEAD tag (which, with H(key) in the AAD,
    leaves exactly one plaintext possible: derive.payload_aad).

    `context` is what the chain knows the update was submitted under (never read from the envelope), so a
    ciphertext copied into someone else's submission cannot open there."""
    validate_envelope(envelope)
    check_context(envelope, context)
    if len(key) != derive.KEY_BYTES or derive.key_commitment(key) != envelope.key_commitment:
        raise KeyCommitmentMismatch("the key does not match the envelope's key commitment")
    aad = derive.payload_aad(context_hash=envelope.context_hash, valset_hash=envelope.valset_hash,
                             key_commitment=envelope.key_commitment)
    try:
        return AESGCM(derive.payload_key(key, envelope.context_hash)).decrypt(derive.ZERO_NONCE,
                                                                              envelope.ciphertext, aad)
    except InvalidTag:
        raise PayloadDecryptionFailed("the payload does not authenticate under the committed key") from None


def verify_all_shares(envelope: SealedUpdate, key: bytes, pubkeys: Mapping[int, bytes]) -> dict[int, bytes]:
    """With the data key K known: recompute the ephemeral key from K, then decrypt every validator's shares
    as that validator would and check them against their commitments. Returns validator index -> share
    vector. This makes a missing share provably someone's fault: if every entry decrypts, a validator that
    released nothing withheld; if one does not, the trainer sealed badly. `pubkeys` maps each sealing-set
    index to its X25519 key (the round's snapshot). Raises KeyCommitmentMismatch (sealing/9),
    EphemeralKeyMismatch (sealing/12) or UndecryptableShare (sealing/13)."""
    validate_envelope(envelope)
    if len(key) != derive.KEY_BYTES or derive.key_commitment(key) != envelope.key_commitment:
        raise KeyCommitmentMismatch("the key does not match the envelope's key commitment")
    ephemeral = X25519PrivateKey.from_private_bytes(derive.ephemeral_private(key, envelope.context_hash))
    if ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != envelope.ephemeral_pubkey:
        raise EphemeralKeyMismatch("the ephemeral key is not derived from the data key (docs/sealing.md section 5)")
    shares = {}
    for entry in envelope.shares:
        pubkey = pubkeys.get(entry.validator_index)
        if pubkey is None:
            raise UndecryptableShare(f"validator index {entry.validator_index} is not in the sealing set")
        try:
            secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(pubkey))
            share_key = derive.share_key(secret, context_hash=envelope.context_hash, valset_hash=envelope.valset_hash,
                                         key_commitment=envelope.key_commitment,
                                         ephemeral_pubkey=envelope.ephemeral_pubkey, validator_pubkey=pubkey,
                                         validator_index=entry.validator_index)
            share = AESGCM(share_key).decrypt(derive.ZERO_NONCE, entry.ciphertext, b"")
            check_share(envelope, entry.validator_index, share)
        except (ValueError, InvalidTag, ShareMismatch):
            raise UndecryptableShare(f"validator {entry.validator_index}'s shares do not decrypt to the shares "
                                     "the envelope commits to") from None
        shares[entry.validator_index] = share
    return shares


def open_sealed(envelope: SealedUpdate, released: Mapping[int, bytes], context: bytes) -> bytes:
    """reconstruct + open_update: what block execution runs once enough shares are on chain."""
    return open_update(envelope, reconstruct(envelope, released), context)


def _entry(envelope: SealedUpdate, validator_index: int) -> SealedShare | None:
    for entry in envelope.shares:
        if entry.validator_index == validator_index:
            return entry
    return None

