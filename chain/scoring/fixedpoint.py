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


def requantize_into(acc: np.ndarray, shift: int, lo: int, hi: int) -> np.ndarray:
    """In-place, fewer passes: the same result as clip(shift_round_half_even(acc, shift), lo, hi) for int64
    `acc` with |acc| < 2**62 (the caller guarantees it; float64-path accumulators are < 2**53).

    Uses round_half_even(x / 2**s) = (x + 2**(s-1) - 1 + floor(x / 2**s) mod 2) >> s: with r = x mod 2**s,
    the added amount carries into the quotient exactly when r > half, or r == half and the quotient is odd.
    """
    if shift:
        odd = acc >> shift
        odd &= 1
        acc += odd
        acc += (1 << (shift - 1)) - 1
        acc >>= shift
    return np.clip(acc, lo, hi, out=acc)


def clip(x, lo: int, hi: int):
    if isinstance(x, int):
        return min(max(x, lo), hi)
    return np.minimum(np.maximum(x, lo), hi)


def requantize(x, shift: int, bits: int):
    """Shift-round an accumulator down to the activation scale, then clip to a `bits`-wide signed range."""
    lo, hi = signed_range(bits)
    return clip(shift_round_half_even(x, shift), lo, hi)
