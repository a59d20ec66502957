"""Optional accelerated backend: torch float64 matmul on CPU, used only when asked for by name.

Only the BLAS call changes; the exactness rule, limb cutting, rounding and metrics stay in the
integer kernel, so the results are the same bits as the numpy backend (tests check this).
Imported lazily by kernel._blas: consensus code never needs torch installed.
"""
from __future__ import annotations

import numpy as np
import torch


def torch_blas(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype != np.float64 or b.dtype != np.float64:
        raise TypeError("the exact backend multiplies float64 only")
    with torch.no_grad():
        return torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()
