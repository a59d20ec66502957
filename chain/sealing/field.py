"""Shamir secret sharing over GF(p), p = 2**255 - 19: the arithmetic behind the data key's split.

A field element travels as 32 bytes, big-endian, strictly below p; any other 32 bytes are not an element.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from math import prod

PRIME = 2**255 - 19
ELEMENT_BYTES = 32


def encode_element(value: int) -> bytes:
    if not 0 <= value < PRIME:
        raise ValueError("not a field element")
    return value.to_bytes(ELEMENT_BYTES, "big")


def decode_element(raw: bytes) -> int | None:
    """The element `raw` encodes, or None if it is not exactly 32 bytes below p."""
    if len(raw) != ELEMENT_BYTES:
        return None
    value = int.from_bytes(raw, "big")
    return value if value < PRIME else None


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """f(x) for f = coefficients[0] + coefficients[1] x + ..., by Horner's rule. Share x coordinates are
    small (at most 1,024), so the exact sum stays a few thousand bits and is reduced once, at the end."""
    if not 0 <= x < 1 << 16:
        raise ValueError("share x coordinates are small non-negative integers")
    acc = 0
    for c in reversed(coefficients):
        acc = acc * x + c
    return acc % PRIME


def interpolate_at_zero(points: Sequence[tuple[int, int]]) -> int:
    """f(0) of the unique polynomial of degree < len(points) through `points` (distinct x in 1..p-1)."""
    weights = lagrange_at_zero(tuple(x for x, _ in points))
    return sum(y * w for (_, y), w in zip(points, weights)) % PRIME


@lru_cache(maxsize=64)
def lagrange_at_zero(xs: tuple[int, ...]) -> tuple[int, ...]:
    """Lagrange weights at 0: w_j = prod_{m != j} x_m / (x_m - x_j) mod p.

    Within a round every envelope has the same share layout and usually the same releasing validators, so
    the weights repeat and are memoized (a pure function: the cache changes timing, never a result). The
    x are small integers, so each denominator is an exact integer product with a single reduction."""
    if len(set(xs)) != len(xs) or any(not 0 < x < PRIME for x in xs):
        raise ValueError("interpolation needs distinct x coordinates in 1..p-1")
    product_all = 1
    for x in xs:
        product_all = product_all * x % PRIME
    weights = []
    for j, xj in enumerate(xs):
        denominator = xj * prod(xm - xj for xm in xs[:j]) * prod(xm - xj for xm in xs[j + 1:])
        weights.append(product_all * pow(denominator % PRIME, -1, PRIME) % PRIME)
    return tuple(weights)
