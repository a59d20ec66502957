"""The update format (docs/rounds.md, "Update format"): an opened update's plaintext is a weight DELTA
against its parent version, in the same canonical envelope as the weights (chain/scoring/weights.py):

    message Weights { repeated Tensor tensors = 1; }   # tensors[i] = candidate[i] - parent[i]

with the parent's tensor count and shapes, on the spec's fixed-point grid (weights at the weight format's
scale, biases at the layer's accumulator scale). The candidate is parent + delta, exactly; if any value
leaves the spec's range the update is INVALID (no clipping). Errors (codespace rounds):
UpdateDecodeError (7), UpdateShapeMismatch (8), UpdateOutOfRange (9).
"""
from __future__ import annotations

import numpy as np

from chain.rounds.errors import UpdateDecodeError, UpdateOutOfRange, UpdateShapeMismatch
from chain.scoring.fixedpoint import signed_range
from chain.scoring.spec import ModelSpec, linear_layers
from chain.scoring.tensor import array_from_tensor, decode_message
from chain.scoring.weights import Weights, encode_weights


def _ranges(spec: ModelSpec) -> list[tuple[int, int]]:
    out = []
    for _ in linear_layers(spec):
        out += [signed_range(spec.weight_format.bits), signed_range(spec.bias_bits)]
    return out


def decode_delta(raw: bytes) -> tuple[np.ndarray, ...]:
    weights = decode_message(Weights, raw, UpdateDecodeError)
    return tuple(array_from_tensor(t, UpdateDecodeError) for t in weights.tensors)


def apply_delta(spec: ModelSpec, parent: tuple[np.ndarray, ...], raw: bytes) -> tuple[np.ndarray, ...]:
    """parent + delta(raw), or raise a rounds error. `parent` is a validated version of `spec`."""
    delta = decode_delta(raw)
    if len(delta) != len(parent):
        raise UpdateShapeMismatch(f"expected {len(parent)} delta tensors, got {len(delta)}")
    out = []
    for i, (p, d, (lo, hi)) in enumerate(zip(parent, delta, _ranges(spec))):
        if d.shape != p.shape:
            raise UpdateShapeMismatch(f"delta tensor {i} has shape {d.shape}, the parent's is {p.shape}")
        # |d| <= hi - lo < 2**62 and |p| <= 2**61 (bits <= 62), so p + d cannot overflow int64
        if int(d.min()) < lo - hi or int(d.max()) > hi - lo:
            raise UpdateOutOfRange(f"delta tensor {i} leaves [{lo}, {hi}] from any parent value")
        c = p + d
        if int(c.min()) < lo or int(c.max()) > hi:
            raise UpdateOutOfRange(f"tensor {i} of parent + delta lies in [{int(c.min())}, {int(c.max())}], "
                                   f"outside [{lo}, {hi}]")
        out.append(c)
    return tuple(out)


def make_delta(parent: tuple[np.ndarray, ...], candidate: tuple[np.ndarray, ...]) -> bytes:
    """The canonical delta bytes taking `parent` to `candidate` (int arrays of equal shapes)."""
    if len(parent) != len(candidate):
        raise ValueError(f"{len(parent)} parent tensors but {len(candidate)} candidate tensors")
    deltas = []
    for p, c in zip(parent, candidate):
        p, c = np.asarray(p, dtype=np.int64), np.asarray(c, dtype=np.int64)
        if p.shape != c.shape:
            raise ValueError(f"shape {c.shape} differs from the parent's {p.shape}")
        deltas.append(c - p)
    return encode_weights(deltas)


def mean_half_even(arrays: list[np.ndarray]) -> np.ndarray:
    """The element-wise mean of integer arrays, rounded half to even: FedAvg on the fixed-point grid. The sum
    runs over Python integers when int64 could overflow (many wide tensors)."""
    n = len(arrays)
    wide = max(int(np.abs(a).max(initial=0)) for a in arrays) * n >= 1 << 62
    total = sum(a.astype(object) if wide else a for a in arrays)
    q = total // n
    r = total - q * n                              # 0 <= r < n
    up = (2 * r > n) | ((2 * r == n) & (q % 2 == 1))
    return (q + up.astype(np.int64)).astype(np.int64)
