"""Weighted threshold: validators with >= 2/3 of the sealing set's power open an update; fewer cannot."""
import itertools

import pytest
from hypothesis import given, settings, strategies as st

from chain.sealing.errors import InvalidSealingSet, KeyCommitmentMismatch, NotEnoughShares
from chain.sealing import derive
from chain.sealing.open import open_sealed, open_update, reconstruct
from chain.sealing.valset import share_plan
from chain.sealing.envelope import share_xs
from chain.sealing.field import interpolate_at_zero
from client.seal import seal
from sealingutil import CONTEXT, release_all, validators

SMALL_SETS = [powers for n in range(1, 5) for powers in itertools.product(range(1, 5), repeat=n)]


def subsets(n):
    return itertools.chain.from_iterable(itertools.combinations(range(n), k) for k in range(n + 1))


def qualifies(powers, subset):
    return 3 * sum(powers[i] for i in subset) >= 2 * sum(powers)


@pytest.mark.parametrize("powers", SMALL_SETS, ids=lambda p: "-".join(map(str, p)))
def test_exactly_the_two_thirds_sets_open(powers):
    """Exhaustive over every power vector in {1..4}^n, n <= 4, and every subset of releasing validators."""
    update = b"update for " + bytes(powers)
    envelope = seal(update, validators(powers), CONTEXT)
    shares = release_all(envelope)
    for subset in subsets(len(powers)):
        released = {i: shares[i] for i in subset}
        if qualifies(powers, subset):
            assert open_sealed(envelope, released, CONTEXT) == update, subset
        else:
            with pytest.raises(NotEnoughShares):
                reconstruct(envelope, released)
            assert _attacker_guess(envelope, released) != _true_key(envelope, shares), subset


def _true_key(envelope, shares):
    return reconstruct(envelope, shares)


def _attacker_guess(envelope, released):
    """The best a coalition below the threshold can do with Shamir: interpolate what it holds. The missing
    degrees of freedom make any key equally likely; the guess misses the committed key."""
    points = [(x, released[e.validator_index][k * 32:(k + 1) * 32])
              for e, xs in zip(envelope.shares, share_xs(envelope)) if e.validator_index in released
              for k, x in enumerate(xs)]
    if not points:
        return None
    guess = interpolate_at_zero([x for x, _ in points], b"".join(y for _, y in points))
    assert derive.key_commitment(guess) != envelope.key_commitment
    return guess


@settings(max_examples=200, deadline=None)
@given(powers=st.lists(st.integers(1, 10**6), min_size=1, max_size=9), max_shares=st.integers(8, 96))
def test_scaled_plans_keep_liveness_and_state_their_secrecy(powers, max_shares):
    """Large powers are scaled down to a bounded share count. Every >= 2/3 set still reaches the threshold;
    `min_power_to_reconstruct` is exactly the least power of any set that reaches it, and above 1/3."""
    pk = validators([1])[0][1]
    try:
        plan = share_plan([(i, pk, p) for i, p in enumerate(powers)], max_total_shares=max_shares)
    except InvalidSealingSet:
        return
    assert plan.total_shares <= max_shares
    least = None
    for subset in subsets(len(powers)):
        held = sum(plan.counts[i] for i in subset)
        power = sum(powers[i] for i in subset)
        if qualifies(powers, subset):
            assert held >= plan.threshold
        if held >= plan.threshold:
            least = power if least is None else min(least, power)
    assert least == plan.min_power_to_reconstruct
    assert 3 * least > plan.total_power


def test_small_total_power_gives_one_share_per_unit_of_power():
    plan = share_plan(validators([10, 20, 30, 40]))
    assert plan.power_per_share == 1 and plan.counts == (10, 20, 30, 40)
    assert plan.threshold == 70 and plan.min_power_to_reconstruct == 70  # 2/3 of 100 needs 67; sums step by 10


def test_equal_large_powers_scale_without_bias():
    plan = share_plan(validators([10**6] * 100))
    assert set(plan.counts) == {2} and plan.threshold == 134
    assert plan.min_power_to_reconstruct == 67 * 10**6


def test_plan_that_would_let_a_third_decrypt_is_refused():
    with pytest.raises(InvalidSealingSet, match="one third"):
        share_plan(validators([1, 2, 3]), max_total_shares=3)
    with pytest.raises(InvalidSealingSet):
        share_plan(validators([1, 2, 3]), threshold=(1, 3))


@pytest.mark.parametrize("bad, why", [
    ([], "empty"),
    ([(0, validators([1])[0][1], 1), (0, validators([1, 1])[1][1], 1)], "repeated index"),
    ([(0, validators([1])[0][1], 0)], "zero power"),
    ([(0, b"\x09" + bytes(30), 1)], "short key"),
    ([(0, bytes(32), 1)], "low-order key"),
])
def test_bad_sealing_sets_are_refused(bad, why):
    with pytest.raises(InvalidSealingSet):
        share_plan(bad)


def test_a_below_threshold_coalition_cannot_forge_an_opening():
    """Even after guessing, the coalition's key fails the commitment check on chain."""
    envelope = seal(b"u", validators([10, 10, 10, 10]), CONTEXT)
    shares = release_all(envelope, [0, 1])
    guess = _attacker_guess(envelope, shares)
    with pytest.raises(KeyCommitmentMismatch):
        open_update(envelope, guess, CONTEXT)
