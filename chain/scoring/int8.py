"""Exact integer products on an 8-bit integer GEMM (u8 @ s8 -> int32), for a backend that has one.

A backend may offer `gemm(a, d) -> c`: a uint8 (M, K), d int8 (K, N), c int32 (M, N), the ordinary integer
product (torch._int_mm on CPU: oneDNN with AMX, VNNI or AVX2). Integer GEMM has no rounding; what can go
wrong is overflow, so this module only calls it where a bound proves that no intermediate of any of the
known kernels overflows. Then its result is *the* integer product, equal to the float64 and limb paths of
matmul.py by construction, on every machine.

The exact product acc = a @ w + bias of int64 a (R, n), w (n, m), bias (m,) is built from
  * an offset: a' = a - lo with lo = min(a, 0), so a' >= 0, and bias' = bias + lo * colsum(w)
    (a @ w = a' @ w + lo * colsum(w));
  * byte limbs of a': a' = sum_i 2**(8 i) a_i, a_i in [0, 255], i < la (the little-endian bytes of a');
  * balanced base-2**7 digits of w: w = sum_j 2**(7 j) d_j with d_j in [-64, 63] for j < lw - 1 and the
    top digit |d_{lw-1}| <= 64;
  * one GEMM of the stacked limbs (R*la, n) with the side-by-side digits (n, lw*m):
    c[r, i, j] = a_i[r] @ d_j, combined as acc = bias' + sum_i 2**(8 i) * sum_j 2**(7 j) c[r, i, j].

Why nothing overflows (the bounds are checked before the GEMM; if one fails the caller takes another path):
  1. Every product a_i[k] * d_j[k] has |.| <= 255 * 64 = 16320, and any two summed <= 32640 < 2**15: the
     AVX2 path (vpmaddubsw) saturates adjacent pairs to int16, and nothing here reaches that.
  2. Every int32 partial sum of a GEMM entry, in any order and grouping (VNNI adds 4 products, AMX 4 per
     tile step, any K-blocking, any thread split), is a sum of at most n such products: |.| <= n * 16320,
     below 2**31 when n <= MAX_INNER.
  3. The digit sum sum_j 2**(7 j) c[., i, j] stays in int32 when n * 255 * span < 2**31, with
     span = sum_j 2**(7 j) max|d_j| (it bounds every partial sum); otherwise it is done in int64.
  4. Every partial sum of the final int64 combination is at most
     |bias'| + n * (2**(8 la) - 1) * span; it must be below 2**62, which also leaves the requantization
     of kernel.py (fixedpoint.requantize_into) its headroom.
No step depends on thread count, summation order or CPU features, so the bits are those of matmul.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

PATH_INT8 = "int8"                   # one u8 @ s8 -> int32 GEMM of byte limbs and 7-bit digits

LIMB_MAX = 255
DIGIT_BITS = 7
DIGIT_MAX = 64
MAX_INNER = ((1 << 31) - 1) // (LIMB_MAX * DIGIT_MAX)  # bound 2: n * 16320 < 2**31
I32_SAFE = 1 << 31
ACC_SAFE = 1 << 62

Gemm = Callable[[np.ndarray, np.ndarray], np.ndarray]  # uint8 (M, K) @ int8 (K, N) -> int32 (M, N)


@dataclass(frozen=True)
class Digits:
    """A weight matrix w (n, m) cut into balanced base-2**7 digits, prepared once per model."""
    stacked: np.ndarray    # int8 (n, count * m): [d_0 | d_1 | ...]
    count: int             # lw
    span: int              # sum_j 2**(7 j) max|d_j|
    colsum: np.ndarray     # int64 (m,): sum over k of w[k, :]
    w_max: int


def weight_digits(w_t: np.ndarray, w_max: int) -> Digits | None:
    """Digits of int64 w_t (n, m), or None when the inner dimension is past bound 2."""
    n, m = w_t.shape
    if n > MAX_INNER:
        return None
    digits, rest = [], w_t
    while True:
        if int(rest.max(initial=0)) <= DIGIT_MAX and int(rest.min(initial=0)) >= -DIGIT_MAX:
            digits.append(rest)  # the top digit: |d| <= 64
            break
        low = ((rest + DIGIT_MAX) & ((1 << DIGIT_BITS) - 1)) - DIGIT_MAX  # in [-64, 63], rest - low = 0 mod 128
        digits.append(low)
        rest = (rest - low) >> DIGIT_BITS  # exact division; |rest| shrinks by 2**7 each step
    span = sum(max(int(d.max()), -int(d.min())) << (DIGIT_BITS * j) for j, d in enumerate(digits))
    stacked = np.concatenate([d.astype(np.int8) for d in digits], axis=1)
    colsum = w_t.sum(axis=0)  # |.| <= n * 2**31 < 2**48: int64 is exact
    return Digits(stacked=stacked, count=len(digits), span=span, colsum=colsum, w_max=w_max)


def matmul_int8(a: np.ndarray, a_min: int, a_max: int, w: Digits, bias: np.ndarray, bias_max: int,
                gemm: Gemm) -> np.ndarray | None:
    """Exact int64 a @ w + bias with |result| < 2**62, or None when a bound of the module docstring fails."""
    rows, n = a.shape
    m = bias.shape[0]
    lo = min(a_min, 0)
    top = a_max - lo  # max of a' = a - lo >= 0
    limbs = max(1, -(-top.bit_length() // 8))
    shift_bias = -lo * n * w.w_max  # bounds |lo * colsum(w)|
    if top >= 1 << 63 or bias_max + shift_bias + n * ((1 << (8 * limbs)) - 1) * w.span >= ACC_SAFE:
        return None  # a' would not fit int64, or bound 4 fails
    shifted = a - lo if lo else a
    # The little-endian bytes of a' >= 0 are its base-256 limbs; "<i8" makes that true on any host.
    raw = np.ascontiguousarray(shifted, dtype="<i8").view(np.uint8).reshape(rows, n, 8)[:, :, :limbs]
    stacked = np.ascontiguousarray(raw.transpose(0, 2, 1)).reshape(rows * limbs, n)
    c = gemm(stacked, w.stacked).reshape(rows, limbs, w.count, m)
    per_limb = _digit_sum(c, w, n)
    # Horner over the limbs, in place: acc = (((p_top << 8) + p_next) << 8 ...) + p_0 + bias'
    acc = np.left_shift(per_limb[:, limbs - 1], 0, dtype=np.int64)
    for i in range(limbs - 2, -1, -1):
        acc <<= 8
        acc += per_limb[:, i]
    acc += bias + lo * w.colsum if lo else bias
    return acc


def _digit_sum(c: np.ndarray, w: Digits, n: int) -> np.ndarray:
    """sum_j 2**(7 j) c[:, :, j] = a_i @ w per limb, by Horner: int32 when bound 3 allows, else int64."""
    dtype = np.int32 if n * LIMB_MAX * w.span < I32_SAFE else np.int64
    out = np.left_shift(c[:, :, w.count - 1], 0, dtype=dtype)
    for j in range(w.count - 2, -1, -1):
        out <<= DIGIT_BITS
        out += c[:, :, j]
    return out
