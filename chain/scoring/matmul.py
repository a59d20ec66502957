"""Exact integer matrix products, on float64 BLAS whenever that is provably exact.

The exactness rule: a float64 product a @ w (+ bias) of integer matrices is exact when
n * max|a| * max|w| + max|bias| < 2**53 (n = inner dimension): every product and every partial sum
is then an integer below 2**53, which float64 represents exactly, so the result cannot depend on
summation order, FMA, SIMD width, thread count or device. The rule is checked before every BLAS call.

When it fails, the operands are cut into limbs (x = sum_i limb_i * 2**(k*i): low limbs unsigned
k-bit, top limb signed) small enough that each limb product passes the same rule; the exact limb
products are then shifted and summed in int64 when a bound proves that cannot overflow, else in
Python ints (numpy object arrays). Nothing here depends on set/dict order, threads or the clock.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

F64_EXACT = 1 << 53
I64_SAFE = 1 << 63

PATH_FLOAT64 = "float64"             # one BLAS call
PATH_LIMBS_INT64 = "limbs-int64"     # several exact BLAS calls, combined in int64
PATH_LIMBS_OBJECT = "limbs-object"   # several exact BLAS calls, combined in Python ints

Blas = Callable[[np.ndarray, np.ndarray], np.ndarray]  # float64 (N, n) @ (n, m) -> float64 (N, m)


def numpy_blas(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, b)


def max_abs(x: np.ndarray) -> int:
    """max |x| as a Python int, without materialising |x| (and without overflow at int64 min)."""
    return max(int(x.max()), -int(x.min())) if x.size else 0


def weight_cache(w_t: np.ndarray) -> tuple[np.ndarray, int]:
    """(float64 copy, max |w|) of a weight matrix that several products reuse."""
    return w_t.astype(np.float64), max_abs(w_t)


def exact_float64(n: int, a_max: int, b_max: int, bias_max: int = 0) -> bool:
    return n * a_max * b_max + bias_max < F64_EXACT


def matmul_exact(a: np.ndarray, w_t: np.ndarray, bias: np.ndarray, *, blas: Blas = numpy_blas,
                 w_t_f64: np.ndarray | None = None, w_max: int | None = None, a_max: int | None = None,
                 bias_max: int | None = None) -> tuple[np.ndarray, str]:
    """Exact a @ w_t + bias for int64 a (N, n), w_t (n, m), bias (m,). Returns (result, path).

    The result is int64 unless the path is limbs-object (then a numpy object array of Python ints).
    `w_t_f64`, `w_max`, `a_max` and `bias_max` (max |.|) are what a caller may already know.
    """
    n = a.shape[1]
    a_max = max_abs(a) if a_max is None else a_max
    w_max = max_abs(w_t) if w_max is None else w_max
    bias_max = max_abs(bias) if bias_max is None else bias_max
    if exact_float64(n, a_max, w_max, bias_max):
        wf = w_t.astype(np.float64) if w_t_f64 is None else w_t_f64
        out = blas(a.astype(np.float64), wf)
        out += bias.astype(np.float64)  # still exact: covered by the bound
        return out.astype(np.int64), PATH_FLOAT64
    return _matmul_limbs(a, w_t, bias, a_max, w_max, bias_max, blas)


def _matmul_limbs(a, w_t, bias, a_max, w_max, bias_max, blas):
    n = a.shape[1]
    if (n * a_max).bit_length() <= 52:
        # Keep a whole and cut only w: n * a_max * 2**kw < 2**53 bounds every limb product.
        ka, kw = a_max.bit_length() or 1, 53 - (n * a_max).bit_length()
    else:
        ka = kw = (53 - n.bit_length()) // 2
    if ka < 1 or kw < 1:
        raise RuntimeError(f"inner dimension {n} too large for exact limb products")
    a_limbs = _limbs(a, ka, a_max)
    w_limbs = _limbs(w_t, kw, w_max)
    a_maxes = [max_abs(x) for x in a_limbs]
    w_maxes = [max_abs(x) for x in w_limbs]
    # |sum of shifted limb products| <= n * (sum_i max|a_i| 2**(ka i)) * (sum_j max|w_j| 2**(kw j)); so do
    # all partial sums of the combination. Below 2**63 the int64 combination cannot overflow.
    span_a = sum(m << (ka * i) for i, m in enumerate(a_maxes))
    span_w = sum(m << (kw * j) for j, m in enumerate(w_maxes))
    in_int64 = n * span_a * span_w + bias_max < I64_SAFE
    acc = bias.astype(np.int64) if in_int64 else bias.astype(object)
    a_f64 = [x.astype(np.float64) for x in a_limbs]
    for j, w_limb in enumerate(w_limbs):
        w_f64 = w_limb.astype(np.float64)
        for i, a_limb in enumerate(a_f64):
            if not exact_float64(n, a_maxes[i], w_maxes[j]):
                raise RuntimeError("limb product breaks the exactness rule")  # a bug, never expected
            part = blas(a_limb, w_f64).astype(np.int64)
            shift = ka * i + kw * j
            acc = acc + (part << shift if in_int64 else part.astype(object) << shift)
    return acc, (PATH_LIMBS_INT64 if in_int64 else PATH_LIMBS_OBJECT)


def _limbs(x: np.ndarray, k: int, x_max: int) -> list[np.ndarray]:
    """x = sum_i limbs[i] << (k*i), limbs[:-1] in [0, 2**k), the top limb signed with |top| <= 2**k."""
    count = max(1, -(-x_max.bit_length() // k))  # |x| < 2**(k*count)
    mask = (1 << k) - 1
    limbs = [(x >> (k * i)) & mask for i in range(count - 1)]
    limbs.append(x >> (k * (count - 1)))
    return limbs
