"""Dishonest trainers, copiers, validators and tampering: each is caught, with its own stable code."""
import itertools
from dataclasses import replace

import pytest

from chain.sealing.errors import (ContextMismatch, KeyCommitmentMismatch, MalformedEnvelope, NotEnoughShares,
                                  PayloadDecryptionFailed, ShareDecryptionFailed,
                                  ShareMismatch, ValidatorSetMismatch)
from chain.sealing.envelope import check_envelope, decode_envelope
from chain.sealing.open import check_share, decrypt_share, open_sealed, open_update, reconstruct, verify_share
from chain.sealing.valset import share_plan
from chain.sealing.envelope import share_xs
from chain.sealing.field import interpolate_at_zero
from client.seal import assemble, random_secret, seal, split
from sealingutil import CONTEXT, OTHER_SUBMITTER, StreamRandom, release_all, validator_private_key, validators

FOUR = validators([10, 10, 10, 10])
PLAN = share_plan(FOUR)          # 10 shares each, threshold 30: any three validators
UPDATE = b"weights delta " * 64


def flip(raw: bytes, at: int = 0) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:]


# --- a trainer who hands validators shares of different keys -----------------------------------------
def mixed_envelope():
    """Validators 0-2 get shares of K (the committed key), validator 3 shares of another key K'."""
    rng = StreamRandom(b"mixed")
    k, k_other = random_secret(rng), random_secret(rng)
    shares = split(k, PLAN, rng)
    shares[3] = split(k_other, PLAN, rng)[3]
    return assemble(UPDATE, PLAN, CONTEXT, k, shares, rng(32)), k


def test_inconsistent_shares_would_fork_a_naive_chain():
    """The pitfall: with 'any three validators' different nodes can rebuild different keys."""
    envelope, key = mixed_envelope()
    shares = release_all(envelope)          # each validator's vector matches its commitment
    assert all(verify_share(envelope, i, s) for i, s in shares.items())
    keys = {subset: _interpolate(envelope, {i: shares[i] for i in subset})
            for subset in itertools.combinations(range(4), 3)}
    assert keys[(0, 1, 2)] == key
    assert len(set(keys.values())) == 4     # four subsets, four different keys


def test_deterministic_subset_gives_every_node_the_same_verdict():
    """Every node evaluates the released shares that are on chain; whatever order it learned them in, it
    takes the first `threshold` valid shares by validator index and gets the same verdict."""
    envelope, _ = mixed_envelope()
    shares = release_all(envelope)
    expected = {(0, 1, 2): UPDATE, (0, 1, 3): KeyCommitmentMismatch, (0, 2, 3): KeyCommitmentMismatch,
                (1, 2, 3): KeyCommitmentMismatch, (0, 1, 2, 3): UPDATE}
    for on_chain, verdict in expected.items():
        for arrival in itertools.permutations(on_chain):
            released = {i: shares[i] for i in arrival}
            assert _verdict(envelope, released) == verdict, (on_chain, arrival)


def _verdict(envelope, released):
    try:
        return open_sealed(envelope, released, CONTEXT)
    except (KeyCommitmentMismatch, NotEnoughShares) as e:
        return type(e)


def _interpolate(envelope, released):
    points = [(x, released[e.validator_index][k * 32:(k + 1) * 32])
              for e, xs in zip(envelope.shares, share_xs(envelope)) if e.validator_index in released
              for k, x in enumerate(xs)][:envelope.threshold]
    return interpolate_at_zero([x for x, _ in points], b"".join(y for _, y in points))


def test_validator_whose_shares_miss_their_commitment_has_nothing_to_release():
    rng = StreamRandom(b"bad commitment")
    k = random_secret(rng)
    shares = split(k, PLAN, rng)
    envelope = assemble(UPDATE, PLAN, CONTEXT, k, shares, rng(32))
    entries = list(envelope.shares)
    entries[1] = replace(entries[1], commitment=bytes(32))
    envelope = replace(envelope, shares=tuple(entries))
    with pytest.raises(ShareMismatch):
        decrypt_share(validator_private_key(1), envelope, 1)
    assert not verify_share(envelope, 1, shares[1])
    assert open_sealed(envelope, {i: shares[i] for i in (0, 1, 2, 3)}, CONTEXT) == UPDATE  # 1 is skipped
    with pytest.raises(NotEnoughShares):
        reconstruct(envelope, {i: shares[i] for i in (0, 1, 2)})


def test_v1_plaintext_commitment_field_is_refused_in_v2():
    """Field 6 held v1's plaintext commitment; a v2 envelope that sets it is malformed, not ignored (two
    byte forms of one envelope would give two envelope hashes)."""
    envelope = seal(UPDATE, FOUR, CONTEXT)
    with pytest.raises(MalformedEnvelope, match="field 6"):
        decode_envelope(replace(envelope, plaintext_commitment=bytes(32)).encode())


def test_v1_envelope_is_refused_with_a_clear_message():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    with pytest.raises(MalformedEnvelope, match="version 1; this chain opens version 2"):
        decode_envelope(replace(envelope, version=1, plaintext_commitment=bytes(32)).encode())


# --- a validator releasing garbage ------------------------------------------------------------------------
@pytest.mark.parametrize("garble", [
    lambda s: flip(s, 5),
    lambda s: s[:-32],
    lambda s: s + bytes(32),
    lambda s: b"\xff\xf1" + s[2:],  # a limb of 65521: not a field element
])
def test_garbage_release_is_excluded_deterministically(garble):
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    shares[0] = garble(shares[0])
    with pytest.raises(ShareMismatch):
        check_share(envelope, 0, shares[0])
    assert open_sealed(envelope, shares, CONTEXT) == UPDATE      # 1, 2, 3 suffice
    with pytest.raises(NotEnoughShares):
        reconstruct(envelope, {i: shares[i] for i in (0, 1, 2)})


def test_share_for_a_validator_outside_the_envelope_is_ignored():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    with pytest.raises(ShareMismatch):
        check_share(envelope, 9, shares[0])
    assert open_sealed(envelope, {9: shares[0], **{i: shares[i] for i in (1, 2, 3)}}, CONTEXT) == UPDATE


# --- tampering with the envelope --------------------------------------------------------------------------
def test_tampered_payload_fails_authentication():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    for at in (0, len(envelope.ciphertext) // 2, len(envelope.ciphertext) - 1):
        with pytest.raises(PayloadDecryptionFailed):
            open_sealed(replace(envelope, ciphertext=flip(envelope.ciphertext, at)), shares, CONTEXT)


def test_swapped_valset_hash_fails_authentication():
    """Everything the AAD binds (context, sealing set, H(K)) is checked by the tag: with the key fixed by H(K),
    exactly one header and ciphertext open, to exactly one plaintext."""
    envelope = seal(UPDATE, FOUR, CONTEXT)
    other = seal(UPDATE, validators([10, 10, 10, 11]), CONTEXT)
    shares = release_all(envelope)
    with pytest.raises(PayloadDecryptionFailed):
        open_sealed(replace(envelope, valset_hash=other.valset_hash), shares, CONTEXT)


def test_swapped_key_commitment_is_caught_twice():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    forged = replace(envelope, key_commitment=seal(b"x", FOUR, CONTEXT).key_commitment)
    with pytest.raises(ShareDecryptionFailed):    # each share key is derived with the key commitment
        decrypt_share(validator_private_key(0), forged, 0)
    with pytest.raises(KeyCommitmentMismatch):    # and the rebuilt key misses it
        reconstruct(forged, shares)


def test_tampered_share_ciphertext_does_not_decrypt():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    entries = list(envelope.shares)
    entries[2] = replace(entries[2], ciphertext=flip(entries[2].ciphertext, 3))
    with pytest.raises(ShareDecryptionFailed):
        decrypt_share(validator_private_key(2), replace(envelope, shares=tuple(entries)), 2)


def test_share_decrypts_only_for_its_own_validator():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    with pytest.raises(ShareDecryptionFailed):
        decrypt_share(validator_private_key(1), envelope, 0)
    with pytest.raises(ShareDecryptionFailed):
        decrypt_share(validator_private_key(7), envelope, 7)


# --- copying someone else's ciphertext --------------------------------------------------------------------
def test_copied_envelope_is_refused_under_another_submitter():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    shares = release_all(envelope)
    with pytest.raises(ContextMismatch):
        check_envelope(envelope, OTHER_SUBMITTER, PLAN)
    with pytest.raises(ContextMismatch):
        open_sealed(envelope, shares, OTHER_SUBMITTER)


def test_copied_envelope_relabelled_for_the_copier_opens_for_nobody():
    from chain.sealing.derive import context_hash
    envelope = seal(UPDATE, FOUR, CONTEXT)
    key = reconstruct(envelope, release_all(envelope))   # even with the original key in hand
    relabelled = replace(envelope, context_hash=context_hash(OTHER_SUBMITTER))
    check_envelope(relabelled, OTHER_SUBMITTER, PLAN)     # it would pass submission ...
    with pytest.raises(ShareDecryptionFailed):            # ... but no validator can decrypt a share
        decrypt_share(validator_private_key(0), relabelled, 0)
    with pytest.raises(PayloadDecryptionFailed):          # and the payload is bound to the original context
        open_update(relabelled, key, OTHER_SUBMITTER)


# --- sealed to the wrong set, or malformed ----------------------------------------------------------------
def test_envelope_sealed_to_another_set_or_plan_is_refused():
    envelope = seal(UPDATE, FOUR, CONTEXT)
    with pytest.raises(ValidatorSetMismatch):
        check_envelope(envelope, CONTEXT, share_plan(validators([10, 10, 10, 11])))
    with pytest.raises(ValidatorSetMismatch):
        check_envelope(replace(envelope, threshold=20), CONTEXT, PLAN)
    with pytest.raises(ValidatorSetMismatch):
        check_envelope(envelope, CONTEXT, share_plan(FOUR, max_total_shares=8))


@pytest.mark.parametrize("mutate", [
    lambda e: replace(e, version=3),
    lambda e: replace(e, key_commitment=e.key_commitment[:31]),
    lambda e: replace(e, ephemeral_pubkey=bytes(32)),                      # low-order point
    lambda e: replace(e, shares=e.shares[::-1]),
    lambda e: replace(e, shares=()),
    lambda e: replace(e, shares=(replace(e.shares[0], count=9),) + e.shares[1:]),
    lambda e: replace(e, threshold=0),
    lambda e: replace(e, threshold=41),
    lambda e: replace(e, ciphertext=b"short"),
])
def test_malformed_envelopes_are_refused(mutate):
    bad = mutate(seal(UPDATE, FOUR, CONTEXT))
    with pytest.raises(MalformedEnvelope):
        decode_envelope(bad.encode())
    with pytest.raises(MalformedEnvelope):
        reconstruct(bad, {})
