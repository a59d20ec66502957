"""chain/sealing/open.py at its boundaries (issue 18: mutants that survived the older tests).

`-k boundary`: verify_all_shares (the withholding proof: with K known, every validator's shares decrypt as
that validator would decrypt them), a committed share vector holding a non-field element, the rebuild
stopping at exactly the threshold. `-k error_path`: each refusal asserted by its class, its stable code
(codespace "sealing") and its exact message. Opening is pure: the only state is the caller's, and a
refusal leaves the released shares it was given as they were.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from chain.sealing import derive
from chain.sealing.errors import (EphemeralKeyMismatch, KeyCommitmentMismatch, NotEnoughShares,
                                  PayloadDecryptionFailed, ShareDecryptionFailed,
                                  ShareMismatch, UndecryptableShare)
from chain.sealing.field import PRIME
from chain.sealing.open import (check_share, decrypt_share, open_sealed, open_update, reconstruct,
                                valid_share_count, verify_all_shares, verify_share)
from chain.sealing.valset import share_plan
from client.seal import assemble, random_secret, seal, seal_with_key, split
from sealingutil import (CONTEXT, StreamRandom, release_all, validator_private_key, validator_public_key,
                         validators)

FOUR = validators([10, 10, 10, 10])      # 10 shares each, threshold 30: any three validators
PLAN = share_plan(FOUR)
UPDATE = b"boundary update " * 32
PUBKEYS = {i: validator_public_key(i) for i in range(4)}


def refused(error, code: int, message: str, fn, *args):
    """`fn(*args)` raises `error` with its code and exact message."""
    with pytest.raises(error) as info:
        fn(*args)
    assert (info.value.codespace, info.value.code) == ("sealing", code)
    assert str(info.value) == message
    return info.value


def with_entry(envelope, index: int, **changes):
    """The envelope with validator `index`'s share entry changed."""
    return replace(envelope, shares=tuple(replace(e, **changes) if e.validator_index == index else e
                                          for e in envelope.shares))


# --- verify_all_shares: the withholding proof ------------------------------------------------------------
@pytest.mark.parametrize("powers", [[10, 10, 10, 10], [1, 2, 3], [5]], ids=lambda p: "-".join(map(str, p)))
def test_sealing_boundary_verify_all_shares_returns_every_validators_own_share(powers):
    vals = validators(powers)
    envelope, key = seal_with_key(UPDATE, vals, CONTEXT)
    shares = verify_all_shares(envelope, key, {i: pk for i, pk, _ in vals})
    assert list(shares) == [e.validator_index for e in envelope.shares] == list(range(len(powers)))
    assert shares == release_all(envelope)           # exactly what each validator decrypts for itself
    assert open_sealed(envelope, shares, CONTEXT) == UPDATE


def test_sealing_error_path_verify_all_shares_key_not_the_committed_one():
    envelope, key = seal_with_key(UPDATE, FOUR, CONTEXT)
    _, other_key = seal_with_key(UPDATE, FOUR, CONTEXT)
    for wrong in (other_key, key[:31], key + b"\x00", b""):
        refused(KeyCommitmentMismatch, 9, "the key does not match the envelope's key commitment",
                verify_all_shares, envelope, wrong, PUBKEYS)


def test_sealing_error_path_verify_all_shares_ephemeral_key_not_derived_from_the_data_key():
    """A trainer that picked its ephemeral key freely: every share still decrypts for its validator, but the
    proof refuses the envelope (a missing share could not be pinned on anyone)."""
    rng = StreamRandom(b"free ephemeral")
    k = random_secret(rng)
    key = k
    envelope = assemble(UPDATE, PLAN, CONTEXT, key, split(k, PLAN, rng), rng(32))
    assert open_sealed(envelope, release_all(envelope), CONTEXT) == UPDATE
    refused(EphemeralKeyMismatch, 12, "the ephemeral key is not derived from the data key (docs/sealing.md section 5)",
            verify_all_shares, envelope, key, PUBKEYS)


def test_sealing_error_path_verify_all_shares_member_missing_from_the_snapshot():
    envelope, key = seal_with_key(UPDATE, FOUR, CONTEXT)
    refused(UndecryptableShare, 13, "validator index 2 is not in the sealing set",
            verify_all_shares, envelope, key, {i: PUBKEYS[i] for i in (0, 1, 3)})


@pytest.mark.parametrize("pubkey, why", [
    (validator_public_key(5), "another validator's key: the share does not authenticate"),
    (bytes(32), "a low-order point: no shared secret"),
    (b"\x09" * 31, "not an X25519 key"),
])
def test_sealing_error_path_verify_all_shares_wrong_member_key(pubkey, why):
    envelope, key = seal_with_key(UPDATE, FOUR, CONTEXT)
    refused(UndecryptableShare, 13, "validator 2's shares do not decrypt to the shares the envelope commits to",
            verify_all_shares, envelope, key, {**PUBKEYS, 2: pubkey})


def test_sealing_error_path_verify_all_shares_share_misses_its_commitment():
    """Validator 1's shares decrypt, but not to what the envelope commits to: the trainer sealed badly."""
    envelope, key = seal_with_key(UPDATE, FOUR, CONTEXT)
    bad = with_entry(envelope, 1, commitment=bytes(32))
    refused(UndecryptableShare, 13, "validator 1's shares do not decrypt to the shares the envelope commits to",
            verify_all_shares, bad, key, PUBKEYS)


# --- check_share / decrypt_share ---------------------------------------------------------------------------
def test_sealing_error_path_check_share_messages():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    share = release_all(envelope, [0])[0]
    refused(ShareMismatch, 7, "validator 9 holds no shares of this envelope", check_share, envelope, 9, share)
    refused(ShareMismatch, 7, "validator 0 holds 10 shares (320 bytes), got 288 bytes",
            check_share, envelope, 0, share[:-32])
    refused(ShareMismatch, 7, "validator 0 holds 10 shares (320 bytes), got 352 bytes",
            check_share, envelope, 0, share + bytes(32))
    refused(ShareMismatch, 7, "validator 0's share does not match its commitment",
            check_share, envelope, 0, share[:-1] + bytes([share[-1] ^ 1]))
    refused(ShareMismatch, 7, "validator 1's share does not match its commitment",   # 0's share as 1's
            check_share, envelope, 1, share)


@pytest.mark.parametrize("at", [0, 9])
def test_sealing_boundary_committed_non_field_element_is_not_a_share(at):
    """A trainer commits to a share vector whose k-th element is >= 2**255-19: the commitment matches, the
    element check still refuses it, and the rebuild skips that validator."""
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    bad = shares[0][:32 * at] + PRIME.to_bytes(2, "big") + shares[0][32 * at + 2:]
    forged = with_entry(envelope, 0, commitment=derive.share_commitment(0, bad))
    refused(ShareMismatch, 7, "validator 0: a share is not a field element (a limb of 65521 or more)",
            check_share, forged, 0, bad)
    assert not verify_share(forged, 0, bad)
    released = {**shares, 0: bad}
    assert valid_share_count(forged, released) == 30
    assert reconstruct(forged, released) == reconstruct(envelope, shares)   # built from 1, 2, 3


def test_sealing_error_path_decrypt_share_messages():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    refused(ShareDecryptionFailed, 6, "the envelope holds no shares for validator 7",
            decrypt_share, validator_private_key(7), envelope, 7)
    refused(ShareDecryptionFailed, 6, "no X25519 shared secret with the envelope's ephemeral key",
            decrypt_share, b"\x01" * 31, envelope, 0)
    refused(ShareDecryptionFailed, 6, "validator 0's shares do not decrypt under its key",
            decrypt_share, validator_private_key(1), envelope, 0)
    assert decrypt_share(validator_private_key(0), envelope, 0) == release_all(envelope, [0])[0]


# --- reconstruct / open_update -----------------------------------------------------------------------------
def test_sealing_error_path_reconstruct_messages_leave_the_released_shares_alone():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    two = {i: shares[i] for i in (0, 1)}
    kept = dict(two)
    refused(NotEnoughShares, 8, "20 valid shares released; 30 needed", reconstruct, envelope, two)
    assert two == kept
    refused(NotEnoughShares, 8, "0 valid shares released; 30 needed", reconstruct, envelope, {})
    forged = replace(envelope, key_commitment=seal(b"x", FOUR, CONTEXT).key_commitment)
    refused(KeyCommitmentMismatch, 9, "the shares rebuild a key that misses the key commitment: the update's "
            "shares are inconsistent", reconstruct, forged, shares)
    assert shares == release_all(envelope)


def test_sealing_boundary_reconstruct_with_exactly_the_threshold():
    envelope, key = seal_with_key(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    assert reconstruct(envelope, {i: shares[i] for i in (1, 2, 3)}) == key     # 30 shares: exactly enough
    assert reconstruct(envelope, shares) == key


def test_sealing_error_path_open_update_messages():
    envelope, key = seal_with_key(UPDATE, FOUR, CONTEXT)
    for wrong in (key[:31], seal_with_key(UPDATE, FOUR, CONTEXT)[1]):
        refused(KeyCommitmentMismatch, 9, "the key does not match the envelope's key commitment",
                open_update, envelope, wrong, CONTEXT)
    tampered = replace(envelope, ciphertext=bytes([envelope.ciphertext[0] ^ 1]) + envelope.ciphertext[1:])
    refused(PayloadDecryptionFailed, 10, "the payload does not authenticate under the committed key",
            open_update, tampered, key, CONTEXT)
    assert open_update(envelope, key, CONTEXT) == UPDATE
