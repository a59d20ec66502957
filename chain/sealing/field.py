"""Shamir secret sharing of the 32-byte data key over GF(q), q = 65521, one polynomial per 16-bit limb.

An *element* (the key, or one share) is 16 limbs, each a value below q written as 2 bytes big-endian:
32 bytes in all. Any other 32 bytes (a limb of q or more) are not an element. The 16 limbs are shared
independently with the same x coordinates, so a share is still one 32-byte value per x, and any fewer
than `threshold` shares say nothing about any limb (Shamir's scheme is perfectly hiding over any field
with more elements than shares; q > 1,024 = the most shares an envelope holds). The key keeps
16 * log2(65521) = 255.9998 bits of entropy.

Why this field and not GF(2**255 - 19) (format v1): every product of two limbs is below 2**32 and a sum
of up to 1,024 of them below 2**42, so splitting is one small float64 matrix product that is exact by
construction (client/seal.py), and rebuilding is short sums of small Python ints: about 20 times
cheaper than 255-bit arithmetic at 243 shares (bench/sealing.py).

Pure Python: this is consensus code (numpy may touch consensus only in the scoring kernel).
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache

PRIME = 65521                 # the largest prime below 2**16
LIMBS = 16
ELEMENT_BYTES = 2 * LIMBS
MAX_X = 1024                  # share x coordinates are 1..MAX_X (valset.MAX_TOTAL_SHARES_LIMIT)

# i! and 1/i! mod q for i <= MAX_X: the Lagrange denominators over runs of consecutive x (below).
_FACT = [1] * (MAX_X + 1)
for _i in range(1, MAX_X + 1):
    _FACT[_i] = _FACT[_i - 1] * _i % PRIME
_INV_FACT = [pow(f, -1, PRIME) for f in _FACT]


def decode_limbs(raw: bytes) -> tuple[int, ...] | None:
    """The limbs of one or more consecutive elements (16 per element), or None unless `raw` is a whole
    number of elements with every limb below q."""
    if len(raw) % ELEMENT_BYTES:
        return None
    limbs = struct.unpack(f">{len(raw) // 2}H", raw)
    if limbs and max(limbs) >= PRIME:
        return None
    return limbs


def encode_limbs(limbs: Sequence[int]) -> bytes:
    if len(limbs) % LIMBS or any(not 0 <= v < PRIME for v in limbs):
        raise ValueError("not a sequence of field elements")
    return struct.pack(f">{len(limbs)}H", *limbs)


def is_element(raw: bytes) -> bool:
    return len(raw) == ELEMENT_BYTES and decode_limbs(raw) is not None


def interpolate_at_zero(xs: Sequence[int], shares: bytes) -> bytes:
    """f(0), limb by limb, of the polynomials of degree < len(xs) through (xs[j], j-th 32-byte element of
    `shares`): the secret. Limb l is sum_j w_j * y_jl mod q.

    All 16 limbs are summed at once: each share becomes one integer with its limbs in 48-bit slots, so the
    sum is len(xs) multiplications instead of 16 times as many. No slot carries into the next: a term is
    below q**2 < 2**32 and a sum of at most 1,024 terms below 2**42 < 2**48. Exact integers throughout."""
    weights = lagrange_at_zero(tuple(xs))
    if len(shares) != ELEMENT_BYTES * len(xs) or decode_limbs(shares) is None:
        raise ValueError("`shares` must be one field element per x coordinate")
    spread = bytearray(3 * len(shares))        # each 2-byte limb at the bottom of a 6-byte slot
    spread[4::6], spread[5::6] = shares[0::2], shares[1::2]
    width = 6 * LIMBS
    packed = [int.from_bytes(spread[k:k + width], "big") for k in range(0, len(spread), width)]
    total = sum(map(int.__mul__, weights, packed)).to_bytes(width, "big")
    return encode_limbs([int.from_bytes(total[k:k + 6], "big") % PRIME for k in range(0, width, 6)])


@lru_cache(maxsize=64)
def lagrange_at_zero(xs: tuple[int, ...]) -> tuple[int, ...]:
    """Lagrange weights at 0: w_j = prod_{m != j} x_m / (x_m - x_j) mod q.

    Memoized: within a round every envelope has the same share layout and usually the same releasing
    validators (a pure function: the cache changes timing, never a result). The x come in runs of
    consecutive integers (one per validator entry), so each denominator is a product of one factorial
    ratio per run: O(len(xs) * runs) steps instead of O(len(xs)**2)."""
    if len(set(xs)) != len(xs) or any(not 0 < x <= MAX_X for x in xs):
        raise ValueError(f"interpolation needs distinct x coordinates in 1..{MAX_X}")
    runs = _runs(sorted(xs))
    product_all = 1
    for x in xs:
        product_all = product_all * x % PRIME
    denominators = []
    for xj in xs:
        denominator = xj
        for a, b in runs:
            denominator = denominator * _run_product(a, b, xj) % PRIME
        denominators.append(denominator)
    return tuple(product_all * inverse % PRIME for inverse in _batch_inverse(denominators))


def _batch_inverse(values: list[int]) -> list[int]:
    """1/v mod q for every v (all nonzero), with one modular inversion (Montgomery's trick)."""
    prefix, acc = [], 1
    for v in values:
        prefix.append(acc)
        acc = acc * v % PRIME
    inverse = pow(acc, -1, PRIME)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inverse * prefix[i] % PRIME
        inverse = inverse * values[i] % PRIME
    return out


def _runs(xs: list[int]) -> list[tuple[int, int]]:
    """Sorted distinct integers as maximal runs [a, b] of consecutive values."""
    runs = []
    for x in xs:
        if runs and runs[-1][1] == x - 1:
            runs[-1] = (runs[-1][0], x)
        else:
            runs.append((x, x))
    return runs


def _run_product(a: int, b: int, x: int) -> int:
    """prod_{m = a..b, m != x} (m - x) mod q, from factorials (all |m - x| < MAX_X < q, so none is 0)."""
    if x < a:
        return _FACT[b - x] * _INV_FACT[a - 1 - x] % PRIME
    if x > b:
        value = _FACT[x - a] * _INV_FACT[x - b - 1] % PRIME
        return value if (b - a + 1) % 2 == 0 else -value % PRIME
    value = _FACT[x - a] * _FACT[b - x] % PRIME
    return value if (x - a) % 2 == 0 else -value % PRIME
