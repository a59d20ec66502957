"""Requantization equals exact rational rounding (half to even) and clipping, for ints and arrays."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chain.scoring.fixedpoint import (clip, half_ulp, requantize, requantize_offset_into, shift_round_half_even,
                                      signed_range)

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)


def reference(x: int, s: int) -> int:
    return round(Fraction(x, 1 << s))  # Python's round() on a Fraction is round-half-to-even


@given(st.integers(-(1 << 200), 1 << 200), st.integers(0, 100))
def test_python_ints_match_fractions(x, s):
    assert shift_round_half_even(x, s) == reference(x, s)


@given(st.lists(INT64, min_size=1, max_size=40), st.integers(0, 62))
def test_int64_arrays_match_fractions(xs, s):
    out = shift_round_half_even(np.array(xs, dtype=np.int64), s)
    assert out.dtype == np.int64
    assert out.tolist() == [reference(x, s) for x in xs]


@given(st.lists(st.integers(-(1 << 90), 1 << 90), min_size=1, max_size=20), st.integers(0, 80))
def test_object_arrays_match_fractions(xs, s):
    assert shift_round_half_even(np.array(xs, dtype=object), s).tolist() == [reference(x, s) for x in xs]


@settings(max_examples=300)
@given(st.integers(1, 40), st.integers(-(1 << 20), 1 << 20))
def test_exact_halves_go_to_even(s, k):
    x = (2 * k + 1) << (s - 1)  # exactly (k + 1/2) * 2**s, including negative k
    expected = k if k % 2 == 0 else k + 1
    assert shift_round_half_even(x, s) == expected
    assert shift_round_half_even(np.array([x], dtype=np.int64), s)[0] == expected


def test_rounding_rule_differs_from_floor_and_half_away():
    # -2.5 -> -2 (half-even), floor gives -3, half-away gives -3: the rule is observable.
    assert shift_round_half_even(-5, 1) == -2 and (-5 >> 1) == -3
    assert shift_round_half_even(-7, 1) == -4 and shift_round_half_even(7, 1) == 4
    assert shift_round_half_even(np.array([-5, -3, 3, 5, -6]), 1).tolist() == [-2, -2, 2, 2, -3]


@given(st.lists(INT64, min_size=1, max_size=40), st.integers(0, 62), st.integers(2, 32))
def test_requantize_is_round_then_clip(xs, s, bits):
    lo, hi = signed_range(bits)
    expected = [min(max(reference(x, s), lo), hi) for x in xs]
    assert requantize(np.array(xs, dtype=np.int64), s, bits).tolist() == expected
    assert [requantize(x, s, bits) for x in xs] == expected


def test_signed_range_and_clip():
    assert signed_range(8) == (-128, 127)
    assert clip(np.array([-200, 5, 300]), -128, 127).tolist() == [-128, 5, 127]


@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=1, max_size=40), st.integers(0, 62),
       st.integers(2, 32), st.booleans(), st.booleans())
def test_offset_form_equals_the_reference(xs, s, bits, relu, as_object):
    # x = acc + 2**(s-1) anywhere in int64 (the int64 paths) or as Python ints (limbs-object), both in place.
    lo, hi = signed_range(bits)
    lo = 0 if relu else lo
    xs = [x for x in xs if -(1 << 63) <= x + half_ulp(s) < 1 << 63]
    expected = [min(max(reference(x, s), lo), hi) for x in xs]
    x = np.array([v + half_ulp(s) for v in xs], dtype=object if as_object else np.int64)
    got = requantize_offset_into(x, s, lo, hi)
    assert got.dtype == np.int64 and got.tolist() == expected


@pytest.mark.parametrize("s", [1, 2, 16, 62])
def test_offset_form_ties_go_to_even(s):
    ks = [k for k in (-3, -2, -1, 0, 1, 2) if -(1 << 63) <= (k + 1) * (1 << s) < 1 << 63]
    x = np.array([(k + 1) * (1 << s) for k in ks], dtype=np.int64)   # acc = k * 2**s + 2**(s-1): all ties
    assert requantize_offset_into(x, s, -(1 << 31), (1 << 31) - 1).tolist() == [k + (k & 1) for k in ks]
