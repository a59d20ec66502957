"""The int8 GEMM path (chain/scoring/int8.py) gives the bits of the other exact paths for every input it
accepts, at the caps of every bound, with a pure-numpy GEMM (no torch) and with torch._int_mm."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.scoring import int8, kernel
from chain.scoring.int8 import DIGIT_MAX, LIMB_MAX, MAX_INNER, PATH_INT8, matmul_int8, weight_digits
from chain.scoring.kernel import forward, score
from chain.scoring.matmul import max_abs
from chain.scoring.spec import FixedPoint, Layer, ModelSpec
from scoring_reference import reference_score

I31 = 1 << 31


def reference_gemm(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The int32 GEMM contract, checked: the exact product must fit int32 (int8.py's bound 2)."""
    assert a.dtype == np.uint8 and d.dtype == np.int8
    out = a.astype(np.int64) @ d.astype(np.int64)
    assert np.abs(out).max(initial=0) < I31
    return out.astype(np.int32)


def gemms():
    out = [reference_gemm]
    try:
        from chain.scoring.torch_backend import INT8_GEMM
    except ImportError:
        return out
    assert INT8_GEMM is not None, "torch._int_mm failed its exactness self-check on this machine"
    return out + [INT8_GEMM]


def python_product(a, w_t, bias):
    a, w_t, bias = a.tolist(), w_t.tolist(), bias.tolist()
    return [[sum(x * y for x, y in zip(row, col)) + b for col, b in zip(zip(*w_t), bias)] for row in a]


def check(a, w_t, bias, gemm):
    digits = weight_digits(w_t, max_abs(w_t))
    acc = matmul_int8(a, int(a.min()), int(a.max()), digits, bias, max_abs(bias), gemm)
    if acc is not None:
        assert acc.dtype == np.int64 and acc.tolist() == python_product(a, w_t, bias)
        assert max_abs(acc) < int8.ACC_SAFE
    return acc


@pytest.mark.parametrize("value", [0, 1, -1, 63, 64, -64, 65, -65, 8191, 8255, 8256, -8257, I31 - 1, -I31])
def test_digits_rebuild_every_weight(value):
    w = np.array([[value, -value, value // 3]], dtype=np.int64)
    d = weight_digits(w, max_abs(w))
    parts = d.stacked.astype(np.int64).reshape(1, d.count, 3)
    assert (np.abs(parts) <= DIGIT_MAX).all()
    assert (parts[:, :-1] < DIGIT_MAX).all()  # low digits in [-64, 63]
    assert sum(parts[:, j] << (7 * j) for j in range(d.count)).tolist() == w.tolist()


@pytest.mark.parametrize("gemm", gemms())
def test_worst_case_inner_dimension_fills_int32_exactly(gemm):
    # Every product 255 * -64 over n = MAX_INNER: the GEMM entry is -MAX_INNER * 16320, within 2**31 of zero.
    n = MAX_INNER
    a = np.full((2, n), LIMB_MAX, dtype=np.int64)
    w_t = np.full((n, 2), -DIGIT_MAX, dtype=np.int64)
    w_t[:, 1] = DIGIT_MAX
    acc = check(a, w_t, np.zeros(2, np.int64), gemm)
    assert acc is not None and acc[0, 0] == -n * LIMB_MAX * DIGIT_MAX > -I31
    assert weight_digits(np.zeros((n + 1, 1), np.int64), 0) is None  # past bound 2: no int8 path


@pytest.mark.parametrize("gemm", gemms())
@pytest.mark.parametrize("a_lo, a_hi, w_bits, bias_bits, accepted", [
    (0, 1 << 16, 12, 40, True),            # the bench's shapes of values: 3 limbs x 2 digits
    (-(1 << 20), 1 << 20, 16, 48, True),   # signed inputs: the offset folds into the bias
    (-I31, I31 - 1, 20, 40, True),         # every 32-bit input: 4 limbs x 3 digits, int64 digit sums
    (-I31, I31 - 1, 31, 61, False),        # |a @ w| can pass 2**62: refused (bound 4)
    (0, LIMB_MAX, 6, 2, True),             # one limb, one digit
])
def test_int8_product_equals_python_ints(gemm, a_lo, a_hi, w_bits, bias_bits, accepted):
    rng = np.random.default_rng(a_hi + w_bits)
    a = rng.integers(a_lo, a_hi, (9, 300), endpoint=True)
    a[0], a[1] = a_lo, a_hi  # the extremes of the range, whole rows of them
    w_t = rng.integers(-(1 << w_bits), 1 << w_bits, (300, 7))
    w_t[:, 0], w_t[:, 1] = -(1 << w_bits), (1 << w_bits) - 1
    bias = rng.integers(-(1 << (bias_bits - 1)), 1 << (bias_bits - 1), 7)
    assert (check(a, w_t, bias, gemm) is not None) == accepted


def test_bound_failures_return_none_instead_of_overflowing():
    n = 64
    a = np.array([[-I31] * n, [I31 - 1] * n], dtype=np.int64)
    w_t = np.full((n, 2), -I31, dtype=np.int64)
    assert check(a, w_t, np.zeros(2, np.int64), reference_gemm) is None  # |a @ w| ~ 2**68
    wide = np.array([[-(1 << 62), (1 << 62) + 5]], dtype=np.int64)     # a - min(a) would pass int64
    assert check(wide, np.zeros((2, 3), np.int64), np.zeros(3, np.int64), reference_gemm) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(0, 31), st.integers(1, 31), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_int8_product_random(n, m, a_bits, w_bits, signed, seed):
    rng = np.random.default_rng(seed)
    lo = -(1 << a_bits) if signed else 0
    a = rng.integers(lo, (1 << a_bits), (3, n), endpoint=False)
    a[0, 0] = lo
    w_t = rng.integers(-(1 << w_bits), 1 << w_bits, (n, m))
    bias = rng.integers(-(1 << 40), 1 << 40, m)
    check(a, w_t, bias, reference_gemm)


# --- through the kernel: the torch backend with the int8 path forced on small models ------------------
@pytest.fixture
def int8_everywhere(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(kernel, "INT8_MIN_WORK", 0)
    monkeypatch.setattr(kernel, "INT8_MAX_PRODUCTS", 64)
    monkeypatch.setattr(kernel, "BLOCK_VALUES", 64)  # several blocks per call


@pytest.mark.parametrize("in_frac, w_frac, act_frac, loss, w_bits", [
    (16, 16, 16, 2, 12), (32, 32, 2, 1, 31), (0, 5, 5, 2, 31), (7, 0, 0, 2, 20), (3, 9, 4, 1, 6)])
def test_kernel_int8_path_matches_numpy_and_reference(int8_everywhere, in_frac, w_frac, act_frac, loss, w_bits):
    # Full 32-bit inputs (both extremes in whole samples), 62-bit biases, shifts 0..62, both metrics; with
    # 31-bit weights int8.py refuses some products (bound 4) and the other exact paths run them: the same bits.
    rng = np.random.default_rng(in_frac + w_frac + act_frac)
    spec = ModelSpec(version=1, input_shape=(2, 5), layers=(Layer(3), Layer(1, 10, 6), Layer(2), Layer(1, 6, 6),
                                                            Layer(1, 6, 4)),
                     input_format=FixedPoint(in_frac, 32), weight_format=FixedPoint(w_frac, 32),
                     activation_format=FixedPoint(act_frac, 32), bias_bits=62, loss=loss)
    lim = 1 << w_bits
    weights = [rng.integers(-lim, lim, (6, 10)), rng.integers(-(1 << 61), 1 << 61, 6),
               rng.integers(-lim, lim, (6, 6)), rng.integers(-(1 << 40), 1 << 40, 6),
               rng.integers(-lim, lim, (4, 6)), rng.integers(-(1 << 40), 1 << 40, 4)]
    inputs = rng.integers(-I31, I31, (13, 2, 5))
    inputs[1] = -I31
    inputs[2] = I31 - 1
    labels = rng.integers(0, 4, 13)
    fw_torch = forward(spec, weights, inputs, backend="torch")
    fw_numpy = forward(spec, weights, inputs, backend="numpy")
    assert w_bits > 20 or any(PATH_INT8 in p for p in fw_torch.paths)
    assert np.array_equal(fw_torch.logits, fw_numpy.logits)
    ref = reference_score(spec, [w.tolist() for w in weights], inputs.tolist(), labels.tolist())
    assert fw_torch.logits.tolist() == ref[3]
    got = score(spec, weights, inputs, labels, backend="torch")
    assert (got.correct, got.total, got.loss) == ref[:3]


def test_torch_self_check_refuses_a_saturating_gemm(monkeypatch):
    torch_backend = pytest.importorskip("chain.scoring.torch_backend")
    assert torch_backend._int8_gemm_is_exact()

    def saturating(a, d):  # what an int16-saturating kernel would return on over-large pairs
        return np.clip(a.astype(np.int64) @ d.astype(np.int64), -(1 << 15), (1 << 15) - 1).astype(np.int32)
    monkeypatch.setattr(torch_backend, "torch_int8_gemm", saturating)
    assert not torch_backend._int8_gemm_is_exact()
