"""Optional accelerated backend: torch on CPU, used only when asked for by name.

Two primitives replace numpy's: the float64 matmul (under the exactness rule of matmul.py) and an 8-bit
integer GEMM, torch._int_mm (uint8 @ int8 -> int32; oneDNN with AMX, VNNI or AVX2), which int8.py calls
only inside bounds that no known int8 kernel can overflow or saturate. The limb cutting, rounding and
metrics stay in the integer kernel, so the results are the same bits as the numpy backend (tests check
this). Imported lazily by kernel._backend: consensus code never needs torch installed.
"""
from __future__ import annotations

import numpy as np
import torch

from chain.scoring.int8 import DIGIT_MAX, LIMB_MAX


def torch_blas(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype != np.float64 or b.dtype != np.float64:
        raise TypeError("the exact backend multiplies float64 only")
    with torch.no_grad():
        return torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def torch_int8_gemm(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    if a.dtype != np.uint8 or d.dtype != np.int8:
        raise TypeError("the int8 GEMM multiplies uint8 by int8 only")
    with torch.no_grad():
        return torch._int_mm(torch.from_numpy(a), torch.from_numpy(d)).numpy()


def _int8_gemm_is_exact() -> bool:
    """A torch build whose _int_mm is missing or wrong at the extremes int8.py allows must not be used.

    Checked once per process against int64 numpy on the worst case (every product 255 * -64 or 255 * 64,
    so saturating or wrapping kernels show) and on mixed values, at shapes that reach different kernels.
    A failure only turns the int8 path off: the float64 and limb paths give the same bits.
    """
    if not hasattr(torch, "_int_mm"):
        return False
    rng = np.random.default_rng(0)
    for rows, n, m in ((3, 5, 7), (64, 1024, 48), (130, 4100, 33)):
        a = np.full((rows, n), LIMB_MAX, dtype=np.uint8)
        d = np.where(rng.integers(0, 2, (n, m)) == 1, DIGIT_MAX, -DIGIT_MAX).astype(np.int8)
        d[:, 0] = -DIGIT_MAX  # one all-negative column: the largest magnitude
        mixed = rng.integers(0, LIMB_MAX + 1, (rows, n)).astype(np.uint8)
        for left in (a, mixed):
            try:
                got = torch_int8_gemm(left, d)
            except (RuntimeError, TypeError, ValueError):  # a build without a CPU kernel for these types
                return False
            if got.dtype != np.int32 or not np.array_equal(got, left.astype(np.int64) @ d.astype(np.int64)):
                return False
    return True


INT8_GEMM = torch_int8_gemm if _int8_gemm_is_exact() else None
