"""The scoring kernel off its usual path (issue 18: mutants that survived test_scoring_kernel.py).

`-k boundary`: the int64 bounds of the MSE and exact-sum fallbacks, exactly at 2**63 and beyond; a ReLU
that is not right after a Linear and two Linears in a row. `-k error_path`: malformed weights and samples
refused by their scoring code, an unknown backend.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chain.scoring import kernel
from chain.scoring.errors import InvalidShard, ShapeMismatch, WeightOutOfRange, WeightsDecodeError
from chain.scoring.kernel import _exact_sum, forward, mse_loss, score, score_shard
from chain.scoring.shards import Shard
from chain.scoring.spec import FixedPoint, Layer, ModelSpec
from chain.scoring.tensor import tensor_from_array
from scoring_reference import reference_score

# flatten, a ReLU on the raw inputs (not folded into a Linear), then Linear -> Linear (no ReLU between:
# nothing to fold), Linear -> ReLU (folded), a last Linear.
SPEC = ModelSpec(
    version=1, input_shape=(2, 3), layers=(Layer(3), Layer(2), Layer(1, 6, 4), Layer(1, 4, 3), Layer(2),
                                           Layer(1, 3, 3)),
    input_format=FixedPoint(2, 6), weight_format=FixedPoint(3, 6), activation_format=FixedPoint(2, 6),
    bias_bits=10, loss=1)
W1 = [[3, -5, 7, 0, 2, -8], [-4, 6, 1, -3, 5, 2], [8, 8, -8, 4, -2, 1], [0, -1, 3, 5, -7, 6]]
B1 = [4, -12, 20, -6]
W2 = [[5, -3, 4, -6], [-2, 7, -1, 3], [-4, -4, -4, 2]]
B2 = [0, -8, -8]
W3 = [[6, -3, 1], [-2, 5, 4], [3, 3, -7]]
B3 = [2, 0, -4]
X = [[[1, -2, 3], [4, 0, -1]], [[-3, 2, 2], [1, 1, 1]], [[5, -5, 0], [2, -2, 7]], [[0, 0, 0], [0, 0, 0]],
     [[31, -32, 10], [-10, 20, -20]], [[2, 3, -4], [6, -1, 0]], [[-7, -9, -1], [-3, -30, -2]]]
Y = [0, 1, 2, 0, 1, 2, 1]


def arrays():
    weights = [np.array(a, dtype=np.int64) for a in (W1, B1, W2, B2, W3, B3)]
    return weights, np.array(X, dtype=np.int64), np.array(Y, dtype=np.int64)


@pytest.mark.parametrize("loss", [1, 2])
def test_kernel_boundary_unfused_relu_and_linear_after_linear_match_reference(loss):
    spec = dataclasses.replace(SPEC, loss=loss)
    weights, inputs, labels = arrays()
    got = score(spec, weights, inputs, labels)
    correct, total, ref_loss, ref_logits, _, _ = reference_score(spec, [W1, B1, W2, B2, W3, B3], X, Y)
    assert forward(spec, weights, inputs).logits.tolist() == ref_logits
    assert (got.correct, got.total, got.loss) == (correct, total, ref_loss)
    # the ReLU on the inputs and the unfolded Linear -> Linear both matter on this vector
    no_relu = dataclasses.replace(spec, layers=spec.layers[:1] + spec.layers[2:])
    assert forward(no_relu, weights, inputs).logits.tolist() != ref_logits


def test_kernel_boundary_score_shard_is_score_of_its_arrays():
    weights, inputs, labels = arrays()
    shard = Shard(inputs=tensor_from_array(inputs), labels=tensor_from_array(labels))
    assert score_shard(SPEC, weights, shard) == score(SPEC, weights, inputs, labels)
    with pytest.raises(ValueError, match="unknown backend"):
        score_shard(SPEC, weights, shard, backend="cuda")


def test_kernel_boundary_torch_backend_equals_numpy():
    pytest.importorskip("torch")
    weights, inputs, labels = arrays()
    assert score(SPEC, weights, inputs, labels, backend="torch") == score(SPEC, weights, inputs, labels)


def test_kernel_error_path_unknown_backend():
    weights, inputs, labels = arrays()
    with pytest.raises(ValueError, match=r"unknown backend 'cuda', expected one of \('numpy', 'torch'\)"):
        score(SPEC, weights, inputs, labels, backend="cuda")


# --- the large-value fallbacks ---------------------------------------------------------------------
def python_mse(logits, labels, act_frac):
    return sum((int(v) - ((1 << act_frac) if c == label else 0)) ** 2
               for row, label in zip(logits.tolist(), labels.tolist()) for c, v in enumerate(row))


@pytest.mark.parametrize("logits, labels, act_frac", [
    ([[-(1 << 31) + 1, 1 << 31]], [0], 0),                  # size * e * e == 2**63 exactly: no int64 sum
    ([[(1 << 31) - 1, -(1 << 31) + 1]], [0], 0),             # just below 2**63: the int64 sum
    ([[1 << 31, -(1 << 31), 1 << 30]] * 4, [0, 1, 2, 0], 2),  # far past int64
    ([[3, -2], [0, 7]], [1, 0], 1),                          # small
])
def test_kernel_boundary_mse_fallback_equals_python_ints(logits, labels, act_frac):
    logits, labels = np.array(logits, dtype=np.int64), np.array(labels, dtype=np.int64)
    assert mse_loss(logits, labels, act_frac) == python_mse(logits, labels, act_frac)


@pytest.mark.parametrize("values", [[1 << 62, 1 << 62], [(1 << 62) - 1, 1 << 62], [1 << 62] * 5, [3, 4]])
def test_kernel_boundary_exact_sum_past_int64(values):
    assert _exact_sum(np.array(values, dtype=np.int64)) == sum(values)


# --- malformed weights and samples -----------------------------------------------------------------
def refused(error, code, weights, inputs, labels):
    with pytest.raises(error) as info:
        score(SPEC, weights, inputs, labels)
    assert (info.value.codespace, info.value.code) == ("scoring", code)
    return str(info.value)


def test_kernel_error_path_malformed_weights():
    weights, inputs, labels = arrays()
    assert "expected 6 tensors" in refused(ShapeMismatch, 4, weights[:-1], inputs, labels)
    bad = list(weights); bad[2] = weights[2].T.copy()
    assert "linear 1" in refused(ShapeMismatch, 4, bad, inputs, labels)
    bad = list(weights); bad[1] = weights[1].astype(np.int32)
    refused(WeightsDecodeError, 8, bad, inputs, labels)
    for value in (31, -32):                     # a 6-bit weight lies in [-32, 31]: one past each end
        ok = list(weights); ok[0] = weights[0].copy(); ok[0][0, 0] = value
        score(SPEC, ok, inputs, labels)
        bad = list(weights); bad[0] = weights[0].copy(); bad[0][0, 0] = value + (1 if value > 0 else -1)
        assert "[-32, 31]" in refused(WeightOutOfRange, 9, bad, inputs, labels)
    bad = list(weights); bad[5] = weights[5].copy(); bad[5][0] = 512   # a 10-bit bias lies in [-512, 511]
    assert "biases" in refused(WeightOutOfRange, 9, bad, inputs, labels)


def test_kernel_error_path_malformed_samples():
    weights, inputs, labels = arrays()
    refused(InvalidShard, 11, weights, inputs[:, :1], labels)                 # wrong per-sample shape
    refused(InvalidShard, 11, weights, inputs, labels[:-1])                   # count mismatch
    refused(InvalidShard, 11, weights, inputs, labels[:, None])               # labels not a vector
    refused(InvalidShard, 11, weights, inputs.astype(np.int32), labels)       # dtype
    high = inputs.copy(); high[0, 0, 0] = 32                                  # 6-bit input: [-32, 31]
    assert "[-32, 31]" in refused(InvalidShard, 11, weights, high, labels)
    high[0, 0, 0] = 31
    score(SPEC, weights, high, labels)
    for label in (-1, 3):                                                     # 3 classes: [0, 3)
        bad = labels.copy(); bad[0] = label
        assert "[0, 3)" in refused(InvalidShard, 11, weights, inputs, bad)
    ok = labels.copy(); ok[0] = 2
    score(SPEC, weights, inputs, ok)


def test_kernel_backends_constant():
    assert kernel.BACKENDS == ("numpy", "torch")
