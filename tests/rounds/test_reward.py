"""The reward arithmetic (chain/rounds/reward.py) and FedAvg rounding (chain/rounds/delta.py), against
independent Fraction / float references; payouts telescope to at most the bounty."""
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.registry.model import Model
from chain.rounds import reward
from chain.rounds.delta import mean_half_even


def model(curve, target=900_000, metric="accuracy") -> Model:
    return Model(id=1, owner="00" * 20, status="active", spec_hash="", weights_hash="", weights_size=0, chunk_size=1,
                 chunks_received=0, shard_root="", shard_count=1, bounty_denom="u", escrow="0", bond_denom="u", bond="0",
                 deposit_denom="u", deposit="0", round_blocks=1, reveal_blocks=1, min_improvement=0,
                 target_score=target, metric=metric, reward_curve=curve, expiry_height=10, registered_height=1)


@st.composite
def curves(draw):
    xs = sorted(set(draw(st.lists(st.integers(1, 9999), max_size=6))))
    ys = sorted(draw(st.lists(st.integers(0, 10_000), min_size=len(xs), max_size=len(xs))))
    return [[0, 0]] + [[x, y] for x, y in zip(xs, ys)] + [[10_000, 10_000]]


def F(curve, gained, span):
    if span <= 0 or gained <= 0:
        return Fraction(0)
    p = Fraction(min(gained, span) * 10_000, span)
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if p <= x1:
            return y0 + Fraction(y1 - y0) * (p - x0) / (x1 - x0)


@settings(max_examples=300, deadline=None)
@given(curves(), st.integers(0, 899_999), st.lists(st.integers(1, 400_000), max_size=8), st.integers(1, 10**30))
def test_payouts_follow_the_curve_and_telescope(curve, initial, gains, bounty):
    m = model(curve)
    span = reward.span(m, initial)
    total, gained = 0, 0
    for g in gains:
        n, d = reward.curve_at(curve, gained + g, span)
        assert Fraction(n, d) == F(curve, gained + g, span)
        paid = reward.payout(m, bounty, gained, gained + g, initial)
        assert paid == int(bounty * (F(curve, gained + g, span) - F(curve, gained, span)) / 10_000)
        total, gained = total + paid, gained + g
    assert total <= bounty * F(curve, gained, span) / 10_000 <= bounty


def test_loss_metric_gains_when_loss_falls_and_a_met_target_pays_nothing():
    m = model([[0, 0], [10_000, 10_000]], target=100, metric="loss")
    assert reward.gain(m, 150, 200) == 50 and reward.span(m, 300) == 200
    assert reward.payout(m, 1000, 0, 100, initial=300) == 500
    assert reward.payout(model([[0, 0], [10_000, 10_000]]), 1000, 0, 5, initial=950_000) == 0   # target met


@given(st.integers(1, 10**12), st.lists(st.tuples(st.integers(0, 99), st.integers(1, 10**6)), min_size=1, max_size=9,
                                        unique_by=lambda t: t[0]))
def test_split_adds_up_and_follows_the_weights(total, weights):
    parts = reward.split(total, weights)
    assert sum(parts.values()) == total
    weight_sum = sum(w for _, w in weights)
    first = min(s for s, _ in weights)
    for seq, w in weights:
        assert parts[seq] - (total * w // weight_sum) == (total - sum(total * v // weight_sum for _, v in weights)
                                                          if seq == first else 0)


def test_fedavg_mean_rounds_half_to_even():
    a = np.array([0, 1, 2, 3, -1, -3, 5], dtype=np.int64)
    b = np.array([1, 2, 3, 4, 0, -2, 5], dtype=np.int64)
    assert mean_half_even([a, b]).tolist() == np.rint((a + b) / 2).astype(np.int64).tolist()
    three = [np.array([1, 0, 0]), np.array([1, 1, 0]), np.array([0, 1, 1])]
    assert mean_half_even(three).tolist() == [1, 1, 0]        # 2/3 -> 1, 2/3 -> 1, 1/3 -> 0


def test_fedavg_mean_of_wide_values_is_exact():
    big = (1 << 61) - 1
    arrays = [np.array([big, -big - 1], dtype=np.int64)] * 8    # the int64 sum would overflow
    assert mean_half_even(arrays).tolist() == [big, -big - 1]
