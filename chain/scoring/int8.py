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
     |bias'| + n * (2**(8 la) - 1) * span; it must be below 2**62 (int64 with a bit to spare).
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
    per_limb = _horner(c, 2, DIGIT_BITS, np.int32 if n * LIMB_MAX * w.span < I32_SAFE else np.int64)
    acc = _horner(per_limb, 1, 8, np.int64)
    if acc.base is not None or acc.dtype != np.int64:  # one limb: a view of the GEMM output
        acc = acc.astype(np.int64)
    acc += bias + lo * w.colsum if lo else bias
    return acc


def _horner(x: np.ndarray, axis: int, bits: int, dtype) -> np.ndarray:
    """sum_k 2**(bits k) x[..., k, ...] along `axis`, as ((x_top << bits) + x_next) << bits ... + x_0.

    Digits (axis 2, in int32 when bound 3 holds) then limbs (axis 1, int64); every partial value is a
    partial sum bounded as in the module docstring, so no step overflows `dtype`.
    """
    count = x.shape[axis]
    take = (lambda k: x[:, :, k]) if axis == 2 else (lambda k: x[:, k])
    if count == 1:
        return take(0)
    out = np.left_shift(take(count - 1), bits, dtype=dtype)
    out += take(count - 2)
    for k in range(count - 3, -1, -1):
        out <<= bits
        out += take(k)
    return out
