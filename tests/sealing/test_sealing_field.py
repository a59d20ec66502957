"""The limb-wise Shamir arithmetic of format v2 (chain/sealing/field.py, client/seal.py split) against a
naive reference written from the definition: polynomials evaluated term by term, Lagrange weights by the
O(t**2) product formula, and every x layout (runs, gaps, single points) a release can produce."""
import random

import pytest
from hypothesis import given, settings, strategies as st

from chain.sealing.field import LIMBS, PRIME, decode_limbs, encode_limbs, interpolate_at_zero, lagrange_at_zero
from chain.sealing.valset import share_plan
from client.seal import random_secret, split
from sealingutil import StreamRandom, validators


def naive_weights(xs):
    out = []
    for j, xj in enumerate(xs):
        num = den = 1
        for m, xm in enumerate(xs):
            if m != j:
                num, den = num * xm % PRIME, den * (xm - xj) % PRIME
        out.append(num * pow(den, PRIME - 2, PRIME) % PRIME)
    return tuple(out)


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(1, 1024), min_size=1, max_size=200))
def test_lagrange_weights_match_the_product_formula_for_any_x_layout(points):
    xs = list(points)
    random.Random(len(xs)).shuffle(xs)          # weights follow the caller's order, runs or not
    assert lagrange_at_zero(tuple(xs)) == naive_weights(xs)


def test_lagrange_weights_at_the_largest_layout():
    xs = tuple(range(1, 1025))
    assert lagrange_at_zero(xs) == naive_weights(xs)
    gappy = tuple(x for x in range(1, 1025) if x % 7)
    assert lagrange_at_zero(gappy) == naive_weights(gappy)


@pytest.mark.parametrize("powers", [[10, 10, 10, 10], [10, 20, 30, 40], [1] * 3, [(i * 7919 % 97 + 3) * 10**6 for i in range(20)]])
def test_split_shares_lie_on_one_polynomial_per_limb_with_the_key_at_zero(powers):
    plan = share_plan(validators(powers))
    rng = StreamRandom(b"field %d" % len(powers))
    key = random_secret(rng)
    shares = split(key, plan, rng)
    flat = b"".join(shares[i] for i, _ in plan.entries())
    xs = list(range(1, plan.total_shares + 1))
    values = [decode_limbs(flat[32 * k:32 * (k + 1)]) for k in range(plan.total_shares)]
    assert all(v is not None and len(v) == LIMBS for v in values)
    t = plan.threshold
    # any t points rebuild the key; the first t and the last t give the same polynomial
    for chosen in (xs[:t], xs[-t:], sorted(random.Random(1).sample(xs, t))):
        ys = b"".join(flat[32 * (x - 1):32 * x] for x in chosen)
        assert interpolate_at_zero(chosen, ys) == key
    # and the shares are exactly f(x) for that polynomial: t points fix it, every other point agrees
    for x in random.Random(2).sample(xs, min(10, len(xs))):
        weights = naive_weights_at(xs[:t], x)
        for limb in range(LIMBS):
            expect = sum(w * values[k][limb] for k, w in enumerate(weights)) % PRIME
            assert values[x - 1][limb] == expect


def naive_weights_at(xs, at):
    out = []
    for j, xj in enumerate(xs):
        num = den = 1
        for m, xm in enumerate(xs):
            if m != j:
                num, den = num * (at - xm) % PRIME, den * (xj - xm) % PRIME
        out.append(num * pow(den, PRIME - 2, PRIME) % PRIME)
    return out


def test_random_secret_is_an_element_and_rejects_limbs_at_or_above_q():
    # a stream whose first limb is 0xfff1 (= q) must be redrawn, never kept
    stream = iter([b"\xff\xf1" + bytes(30), b"\x00\x07"])
    key = random_secret(lambda n: next(stream)[:n])
    assert decode_limbs(key) == (0,) * 15 + (7,)


def test_limb_codec_refuses_non_elements():
    assert decode_limbs(b"\xff\xf0" * 16) == (PRIME - 1,) * 16
    assert decode_limbs(b"\xff\xf1" + bytes(30)) is None
    assert decode_limbs(bytes(31)) is None
    with pytest.raises(ValueError):
        encode_limbs([PRIME] + [0] * 15)
    with pytest.raises(ValueError):
        lagrange_at_zero((1, 1))
    with pytest.raises(ValueError):
        lagrange_at_zero((0, 2))


def test_field_covers_every_share_an_envelope_can_hold():
    """x coordinates run to the most shares an envelope may hold; all must be distinct and nonzero mod q,
    and factorial tables must reach them (else a large plan could not be rebuilt)."""
    from chain.sealing.field import MAX_X
    from chain.sealing.valset import MAX_TOTAL_SHARES_LIMIT
    assert MAX_TOTAL_SHARES_LIMIT <= MAX_X < PRIME
    plan = share_plan(validators([1] * 4), max_total_shares=MAX_TOTAL_SHARES_LIMIT)
    assert plan.total_shares <= MAX_X
