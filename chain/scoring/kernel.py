"""The scoring kernel: an integer forward pass and integer metrics, bit-exact on every machine.

    x0 = inputs (input format)
    Flatten: reshape per sample.        ReLU: max(x, 0).
    Linear:  acc = x @ W.T + b          exact (matmul.py; int8.py on a backend with an int8 GEMM),
                                        at scale weight_frac + frac(x)
             x   = clip(round_half_even(acc / 2**(weight_frac + frac(x) - act_frac)), act range)

Metrics on the final activations (the logits, at act_frac):
    correct  argmax per sample (ties to the lowest index) equals the label
    loss     mse: sum over samples and classes of (logit - onehot * 2**act_frac)**2, scale 2**(-2*act_frac)
             cross_entropy: sum over samples of (lse(logits) - logit[label]) through the integer tables of
             tables.py, scale 2**-32
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from chain.scoring import tables as ce_tables
from chain.scoring.fixedpoint import half_ulp, requantize_offset_into, shift_round_half_even, signed_range
from chain.scoring.int8 import PATH_INT8, Digits, Gemm, matmul_int8, weight_digits
from chain.scoring.matmul import I64_SAFE, Blas, matmul_exact, max_abs, numpy_blas, weight_cache
from chain.scoring.shards import Shard, shard_arrays, validate_samples
from chain.scoring.spec import LAYER_FLATTEN, LAYER_LINEAR, LAYER_RELU, LOSS_MSE, ModelSpec
from chain.scoring.weights import validate_weights
from chain.tx.wire import Field, Message, message

BACKENDS = ("numpy", "torch")
# Samples are independent, so the forward pass runs on blocks of rows: every block's intermediates (about
# BLOCK_VALUES int64s per layer) stay in the CPU caches between the matmul, the requantization and the next
# layer, instead of streaming through memory once per pass. Bits cannot depend on the block size.
BLOCK_VALUES = 1 << 18
# When the backend has an int8 GEMM, it takes a product of at least INT8_MIN_WORK multiply-adds
# (rows * inner * outer; below that, call overheads win) that needs at most INT8_MAX_PRODUCTS limb-digit
# products (one float64 BLAS product costs about four int8 ones here, the combination the rest). Speed
# only: every path gives the same bits.
INT8_MIN_WORK = 1 << 24
INT8_MAX_PRODUCTS = 8
_POWERS = np.array([1 << k for k in range(ce_tables.ONE_BITS + 1, 63)], dtype=np.int64)  # for bit lengths


@message
class Score(Message):
    """The result of scoring one model version on one shard. Canonical bytes via .encode()."""
    correct: int = 0
    total: int = 0
    loss: int = 0
    SCHEMA = (Field(1, "correct", "uint64"), Field(2, "total", "uint64"), Field(3, "loss", "uint64"))


@dataclass(frozen=True)
class Forward:
    logits: np.ndarray          # int64 (N, classes) at act_frac
    paths: tuple[str, ...]      # the matmul path each Linear took, in order


@dataclass(frozen=True)
class _Linear:
    w_t: np.ndarray       # int64 (in, out)
    w_t_f64: np.ndarray   # matmul.weight_cache: converted once per model, not once per product
    w_max: int
    bias: np.ndarray      # int64 (out,)
    digits: Digits | None  # int8.weight_digits, when the backend has an int8 GEMM


@dataclass(frozen=True)
class _Backend:
    blas: Blas
    int8_gemm: Gemm | None


def forward(spec: ModelSpec, weights, inputs: np.ndarray, *, backend: str = "numpy") -> Forward:
    """Logits for validated int64 inputs of shape (N, *input_shape)."""
    impl = _backend(backend)
    linears = _prepare(weights, impl)
    blocks, paths = [], [set() for _ in linears]
    widest = max(max(lin.w_t.shape) for lin in linears)
    rows = max(1, BLOCK_VALUES // widest)
    for start in range(0, max(inputs.shape[0], 1), rows):
        logits, block_paths = _forward_block(spec, linears, inputs[start:start + rows], impl)
        blocks.append(logits)
        for seen, path in zip(paths, block_paths):
            seen.add(path)
    logits = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return Forward(logits=logits, paths=tuple("+".join(sorted(p)) for p in paths))


def _forward_block(spec: ModelSpec, linears: list[_Linear], x: np.ndarray, impl: _Backend):
    frac = spec.input_format.frac_bits
    act_frac = spec.activation_format.frac_bits
    act_lo, act_hi = signed_range(spec.activation_format.bits)
    linears = iter(linears)
    paths = []
    layers = spec.layers
    nonneg = False  # known >= 0 (after a ReLU), so the matmul need not look for the minimum
    i = 0
    while i < len(layers):
        kind = layers[i].kind
        if kind == LAYER_FLATTEN:
            x = x.reshape(x.shape[0], -1)
        elif kind == LAYER_RELU:
            x = np.maximum(x, 0)
            nonneg = True
        elif kind == LAYER_LINEAR:
            shift = spec.weight_format.frac_bits + frac - act_frac
            # The rounding half rides in the bias (|bias| < 2**61, half <= 2**61: int64), so the matmul adds it
            # for free and the requantization only shifts and corrects ties.
            acc, path = _product(x, next(linears), impl, nonneg, half_ulp(shift))
            # A ReLU right after a Linear folds into the clip: relu(clip(v, lo, hi)) == clip(v, 0, hi).
            fuse_relu = i + 1 < len(layers) and layers[i + 1].kind == LAYER_RELU
            x = requantize_offset_into(acc, shift, 0 if fuse_relu else act_lo, act_hi)
            frac = act_frac
            paths.append(path)
            nonneg = fuse_relu
            i += fuse_relu
        else:
            raise AssertionError(f"unvalidated layer kind {kind}")
        i += 1
    return x, paths


def _product(x: np.ndarray, lin: _Linear, impl: _Backend, nonneg: bool, half: int) -> tuple[np.ndarray, str]:
    """Exact x @ w + bias + half: on the int8 GEMM where the backend has one and it pays, else matmul.py's."""
    rows, n = x.shape
    bias = lin.bias + half if half else lin.bias
    bias_max = max_abs(bias)
    if not x.size:
        a_min = a_max = 0
    else:
        a_min, a_max = 0 if nonneg else int(x.min()), int(x.max())
    a_abs = max(a_max, -a_min)
    if lin.digits is not None and x.size and rows * n * lin.bias.shape[0] >= INT8_MIN_WORK:
        limbs = -(-(a_max - min(a_min, 0)).bit_length() // 8) or 1
        if limbs * lin.digits.count <= INT8_MAX_PRODUCTS:
            acc = matmul_int8(x, a_min, a_max, lin.digits, bias, bias_max, impl.int8_gemm)
            if acc is not None:  # None: a bound of int8.py fails, so another exact path runs
                return acc, PATH_INT8
    return matmul_exact(x, lin.w_t, bias, blas=impl.blas, w_t_f64=lin.w_t_f64, w_max=lin.w_max,
                        a_max=a_abs, bias_max=bias_max)


def score(spec: ModelSpec, weights, inputs: np.ndarray, labels: np.ndarray, *, backend: str = "numpy") -> Score:
    """Score a validated spec and weights on quantized inputs (N, *input_shape) and labels (N,)."""
    validate_weights(spec, weights)
    validate_samples(spec, inputs, labels)
    logits = forward(spec, weights, inputs, backend=backend).logits
    return metrics(spec, logits, labels)


def score_shard(spec: ModelSpec, weights, shard: Shard, *, backend: str = "numpy") -> Score:
    return score(spec, weights, *shard_arrays(shard), backend=backend)


def metrics(spec: ModelSpec, logits: np.ndarray, labels: np.ndarray) -> Score:
    act_frac = spec.activation_format.frac_bits
    loss = mse_loss(logits, labels, act_frac) if spec.loss == LOSS_MSE else cross_entropy_loss(logits, labels, act_frac)
    return Score(correct=correct_count(logits, labels), total=int(labels.shape[0]), loss=loss)


def correct_count(logits: np.ndarray, labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.argmax(logits, axis=1) == labels))  # argmax: first maximum wins


def mse_loss(logits: np.ndarray, labels: np.ndarray, act_frac: int) -> int:
    err = logits.copy()
    err[np.arange(err.shape[0]), labels] -= 1 << act_frac
    e = max_abs(err)
    if err.size * e * e < I64_SAFE:
        return int(np.sum(err * err))
    return int(np.sum(err.astype(object) ** 2))  # squares past int64: Python ints


def cross_entropy_loss(logits: np.ndarray, labels: np.ndarray, act_frac: int) -> int:
    """sum_n [ (max - logit[label]) + ln(sum_c exp(logit_c - max)) ] at scale 2**-32, via the pinned tables."""
    exp_table, log_table, ln2 = ce_tables.tables()
    top = logits.max(axis=1)
    dist = top[:, None] - logits                         # >= 0, at act_frac; < 2**32
    step = ce_tables.EXP_STEP_BITS
    idx = shift_round_half_even(dist, act_frac - step) if act_frac >= step else dist << (step - act_frac)
    idx = np.minimum(idx, ce_tables.EXP_LEN)             # far below the max: exp rounds to 0
    sums = exp_table[idx].sum(axis=1)                     # in [2**32, classes * 2**32]
    one = ce_tables.ONE_BITS
    length = one + 1 + np.searchsorted(_POWERS, sums, side="right")  # bit length: 33 + #{k > 32: sums >= 2**k}
    index = (sums >> (length - 1 - ce_tables.LOG_INDEX_BITS)) - (1 << ce_tables.LOG_INDEX_BITS)
    lse = (length - (one + 1)) * ln2 + log_table[index]  # ln(sums / 2**32), at 2**-32
    margin = _exact_sum(top - logits[np.arange(logits.shape[0]), labels])
    return (margin << (one - act_frac)) + _exact_sum(lse)


def _exact_sum(x: np.ndarray) -> int:
    """Sum of a non-negative int64 array as a Python int: in int64 when that provably cannot overflow."""
    if x.size * max_abs(x) < I64_SAFE:
        return int(np.sum(x))
    return sum(x.tolist())


def _prepare(weights, impl: _Backend) -> list[_Linear]:
    out = []
    for w, b in zip(weights[0::2], weights[1::2]):
        w_t = np.ascontiguousarray(w.T)
        w_t_f64, w_max = weight_cache(w_t)
        digits = weight_digits(w_t, w_max) if impl.int8_gemm is not None else None
        out.append(_Linear(w_t=w_t, w_t_f64=w_t_f64, w_max=w_max, bias=b, digits=digits))
    return out


def _backend(backend: str) -> _Backend:
    if backend == "numpy":
        return _Backend(blas=numpy_blas, int8_gemm=None)
    if backend == "torch":  # imported only on request: consensus never needs torch
        module = importlib.import_module("chain.scoring.torch_backend")
        return _Backend(blas=module.torch_blas, int8_gemm=module.INT8_GEMM)
    raise ValueError(f"unknown backend {backend!r}, expected one of {BACKENDS}")
