"""Secure aggregation primitives (chain/secagg): masks cancel bit for bit in a cohort's sum, a dropout's
pair masks are removed with its released round key, a single masked update reveals nothing without its
self seed, and cohorts are deterministic, of k to 2k-1 members, and void below k."""
import hashlib
import os
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chain.secagg import cohorts, masks
from chain.secagg.errors import SecaggError

CTX = masks.context("secagg-test", 3, 7, 0)
N = 2_000


def cohort(size, seed=b"members"):
    """Round keys and self seeds of `size` members (deterministic test material)."""
    keys = {i: hashlib.sha256(seed + b"key %d" % i).digest() for i in range(size)}
    seeds = {i: hashlib.sha256(seed + b"self %d" % i).digest() for i in range(size)}
    pubkeys = {i: masks.public_key(k) for i, k in keys.items()}
    return keys, seeds, pubkeys


def deltas(size, n=N, bound=1 << 40):
    rng = np.random.default_rng(size)
    return {i: rng.integers(-bound, bound, n, dtype=np.int64) for i in range(size)}


def masked_inputs(keys, seeds, pubkeys, xs, members):
    return {i: masks.mask(xs[i], masks.member_mask(i, keys[i], seeds[i], pubkeys, CTX, len(xs[i]))) for i in members}


def test_secagg_masks_cancel_bit_for_bit():
    keys, seeds, pubkeys = cohort(5)
    xs = deltas(5)
    ys = masked_inputs(keys, seeds, pubkeys, xs, range(5))
    total = masks.unmask_sum(ys, seeds, {}, pubkeys, CTX)
    assert total.dtype == np.int64
    assert np.array_equal(total, sum(xs.values()))


def test_secagg_one_masked_update_alone_reveals_nothing():
    """Without its self seed a member's y is a uniform-looking vector: no correlation with its delta, and
    removing every pair mask (all peers' keys) still leaves it hidden under the self mask."""
    keys, seeds, pubkeys = cohort(4)
    xs = deltas(4)
    y = masked_inputs(keys, seeds, pubkeys, xs, [0])[0].view(np.int64).astype(np.float64)
    corr = np.corrcoef(y, xs[0].astype(np.float64))[0, 1]
    assert abs(corr) < 0.1
    pairs_removed = masks.mask(np.zeros(N, np.int64), masks.member_mask(0, keys[0], seeds[0], pubkeys, CTX, N))
    pair_only = pairs_removed - masks.stream(masks.self_key(seeds[0], CTX, 0), N)
    leaked = (masked_inputs(keys, seeds, pubkeys, xs, [0])[0] - pair_only).view(np.int64)
    assert not np.array_equal(leaked, xs[0])


def test_dropout_sum_is_exact_with_the_dropouts_round_key():
    keys, seeds, pubkeys = cohort(5)
    xs = deltas(5)
    submitters = [0, 1, 3, 4]                      # member 2 joined, then dropped out
    ys = masked_inputs(keys, seeds, pubkeys, xs, submitters)
    total = masks.unmask_sum(ys, {i: seeds[i] for i in submitters}, {2: keys[2]}, pubkeys, CTX)
    assert np.array_equal(total, sum(xs[i] for i in submitters))


def test_dropout_two_dropouts_and_the_middle_member():
    keys, seeds, pubkeys = cohort(6)
    xs = deltas(6)
    submitters = [1, 2, 4]
    ys = masked_inputs(keys, seeds, pubkeys, xs, submitters)
    total = masks.unmask_sum(ys, {i: seeds[i] for i in submitters}, {0: keys[0], 3: keys[3], 5: keys[5]}, pubkeys, CTX)
    assert np.array_equal(total, sum(xs[i] for i in submitters))


def test_dropout_without_its_key_the_sum_stays_masked():
    keys, seeds, pubkeys = cohort(4)
    xs = deltas(4)
    ys = masked_inputs(keys, seeds, pubkeys, xs, [0, 1, 2])
    wrong = os.urandom(32)
    with pytest.raises(SecaggError, match="does not match"):
        masks.unmask_sum(ys, {i: seeds[i] for i in range(3)}, {3: wrong}, pubkeys, CTX)
    with pytest.raises(SecaggError, match="no other"):   # asking for both secrets of one member is refused
        masks.unmask_sum(ys, {i: seeds[i] for i in range(4)}, {3: keys[3]}, pubkeys, CTX)


def test_secagg_masks_are_bound_to_their_cohort_context():
    keys, seeds, pubkeys = cohort(3)
    xs = deltas(3)
    ys = masked_inputs(keys, seeds, pubkeys, xs, range(3))
    other = masks.context("secagg-test", 3, 7, 1)
    assert not np.array_equal(masks.unmask_sum(ys, seeds, {}, pubkeys, other), sum(xs.values()))


def test_secagg_refuses_malformed_inputs():
    keys, seeds, pubkeys = cohort(3)
    with pytest.raises(SecaggError):
        masks.member_mask(9, keys[0], seeds[0], pubkeys, CTX, 4)
    with pytest.raises(SecaggError):
        masks.member_mask(0, keys[0], b"short", pubkeys, CTX, 4)
    with pytest.raises(SecaggError):
        masks.member_mask(0, keys[0], seeds[0], {**pubkeys, 1: bytes(32)}, CTX, 4)   # low-order peer key
    with pytest.raises(SecaggError):
        masks.mask(np.zeros(3, np.int64), np.zeros(4, np.uint64))


def test_secagg_flatten_round_trips_a_delta():
    arrays = (np.arange(6, dtype=np.int64).reshape(2, 3) - 3, np.array([5, -7], dtype=np.int64))
    vec = masks.flatten(arrays)
    back = masks.unflatten(vec, [a.shape for a in arrays])
    assert all(np.array_equal(a, b) for a, b in zip(arrays, back))
    with pytest.raises(SecaggError):
        masks.unflatten(vec, [(2, 2)])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), k=st.integers(2, 12), seed=st.binary(min_size=0, max_size=8))
def test_cohort_sizes_are_k_to_2k_minus_1_and_cover_everyone(n, k, seed):
    members = [b"m%03d" % i for i in range(n)]
    got = cohorts.assign(members, seed, k)
    if n < k:
        assert got == []      # below k nobody is grouped: the round is void for them
        return
    assert all(k <= len(c) <= 2 * k - 1 for c in got)
    assert sorted(m for c in got for m in c) == sorted(members)
    shuffled = list(members)
    random.Random(n).shuffle(shuffled)
    assert cohorts.assign(shuffled, seed, k) == got   # input order never matters


def test_cohort_assignment_depends_on_the_seed():
    members = [b"m%03d" % i for i in range(30)]
    assert cohorts.assign(members, b"a", 5) != cohorts.assign(members, b"b", 5)
    with pytest.raises(SecaggError):
        cohorts.assign(members, b"a", 1)
    with pytest.raises(SecaggError):
        cohorts.assign([b"x", b"x", b"y"], b"a", 2)


def test_secagg_sdk_members_seal_their_secrets_and_the_chain_unmasks_with_one_per_member():
    """client/secagg.py end to end: each member seals its round key and self seed to the validators; after
    one dropout, opening exactly one secret per member (seed if submitted, key if not) gives the sum."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sealing"))
    from sealingutil import CONTEXT, release_all, validators
    from chain.sealing.open import open_sealed
    from client.secagg import decode_masked, encode_masked, join_envelopes, masked_update, new_member

    members = [new_member() for _ in range(4)]
    pubkeys = {i: m.round_public for i, m in enumerate(members)}
    joined = [join_envelopes(m, validators([10, 20, 30, 40]), CONTEXT, max_total_shares=256) for m in members]
    xs = {i: (np.arange(6, dtype=np.int64).reshape(2, 3) * (i + 1) - 7, np.array([i, -i], dtype=np.int64))
          for i in range(4)}
    ys = {i: decode_masked(encode_masked(masked_update(members[i], i, pubkeys, CTX, xs[i])), 8) for i in (0, 1, 3)}
    opened = lambda envelope: open_sealed(envelope, release_all(envelope), CONTEXT)  # noqa: E731
    seeds = {i: opened(joined[i][1]) for i in ys}
    keys = {2: opened(joined[2][0])}
    total = masks.unmask_sum(ys, seeds, keys, pubkeys, CTX)
    assert np.array_equal(total, sum(masks.flatten(xs[i]) for i in ys))
    with pytest.raises(SecaggError):
        decode_masked(b"\x00" * 7, 1)
