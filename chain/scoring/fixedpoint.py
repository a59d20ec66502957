"""Fixed-point requantization: one rounding rule, one clipping rule, integers only.

A value v is stored as the integer round(v * 2**frac). Moving an integer from `frac_in` to `frac_out`
fractional bits (frac_in >= frac_out) is a right shift by s = frac_in - frac_out that rounds half to
even, exactly like `round(Fraction(x, 2**s))` in Python. At coarse scales floor, half-even and
half-away-from-zero give different bits, so the rule is part of the spec version.

The functions take Python ints, numpy int64 arrays or numpy object arrays of Python ints: they use
only `>>`, `&`, `+`, comparisons and min/max, which mean the same thing on all three (numpy's `>>` on
int64 is an arithmetic shift, i.e. floor division by 2**s, and `&` sees two's complement, like Python).
"""
from __future__ import annotations

import numpy as np


def signed_range(bits: int) -> tuple[int, int]:
    """The two's complement range of a `bits`-wide signed integer: [-2**(bits-1), 2**(bits-1) - 1]."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def shift_round_half_even(x, s: int):
    """x / 2**s rounded to the nearest integer, ties to the even one. s >= 0."""
    if s < 0:
        raise ValueError("shift must be >= 0")
    if s == 0:
        return x
    floor = x >> s
    rest = x & ((1 << s) - 1)  # x - floor * 2**s, always in [0, 2**s) (two's complement)
    half = 1 << (s - 1)
    if isinstance(x, int):
        return floor + (rest > half or (rest == half and floor & 1 == 1))
    up = (rest > half) | ((rest == half) & ((floor & 1) == 1))
    return floor + up.astype(floor.dtype)  # bool -> 0/1 in int64, or Python bools (ints) in object arrays


def half_ulp(s: int) -> int:
    """2**(s-1), the amount `requantize_offset_into` expects already added (0 when nothing is shifted out)."""
    return 1 << (s - 1) if s else 0


def requantize_offset_into(x: np.ndarray, s: int, lo: int, hi: int) -> np.ndarray:
    """clip(shift_round_half_even(acc, s), lo, hi) in place, for x = acc + half_ulp(s), int64 or object.

    floor(x / 2**s) rounds acc half up; it differs from half-even exactly at a tie (acc = 2**(s-1) mod
    2**s, i.e. x = 0 mod 2**s) whose rounded-up quotient is odd (bit s of x set): then the low s + 1
    bits of x are exactly 2**s, and one is subtracted. Only `&`, `>>` and `-` (no additions), so any
    int64 x is safe; the caller folds the half into the bias, which costs no pass over the values.
    """
    if s:
        tie = (x & ((1 << (s + 1)) - 1)) == (1 << s)
        if x.dtype == object:
            return clip((x >> s) - tie, lo, hi).astype(np.int64)  # fits act_bits <= 32
        x >>= s
        x -= tie
    if x.dtype == object:
        return clip(x, lo, hi).astype(np.int64)
    return np.clip(x, lo, hi, out=x)


def clip(x, lo: int, hi: int):
    if isinstance(x, int):
        return min(max(x, lo), hi)
    return np.minimum(np.maximum(x, lo), hi)


def requantize(x, shift: int, bits: int):
    """Shift-round an accumulator down to the activation scale, then clip to a `bits`-wide signed range."""
    lo, hi = signed_range(bits)
    return clip(shift_round_half_even(x, shift), lo, hi)
