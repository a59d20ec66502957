"""The kernel computes the documented integer rules: golden vectors, matmul paths, metrics."""
import dataclasses
import hashlib

import numpy as np
import pytest

from chain.scoring import tables
from chain.scoring.kernel import correct_count, cross_entropy_loss, forward, score
from chain.scoring.matmul import (F64_EXACT, PATH_FLOAT64, PATH_LIMBS_INT64, PATH_LIMBS_OBJECT, exact_float64,
                                  matmul_exact)
from chain.scoring.spec import FixedPoint, Layer, ModelSpec
from scoring_reference import reference_score

# --- golden vectors ------------------------------------------------------------------------------
# Coarse formats (2-3 fractional bits, 6-bit ranges) so rounding ties, clipping and argmax ties occur.
GOLDEN_SPEC = ModelSpec(
    version=1, input_shape=(2, 3), layers=(Layer(3), Layer(1, 6, 4), Layer(2), Layer(1, 4, 3)),
    input_format=FixedPoint(2, 6), weight_format=FixedPoint(3, 6), activation_format=FixedPoint(2, 6),
    bias_bits=10, loss=1)
W1 = [[3, -5, 7, 0, 2, -8], [-4, 6, 1, -3, 5, 2], [8, 8, -8, 4, -2, 1], [0, -1, 3, 5, -7, 6]]
B1 = [4, -12, 20, -6]   # at the accumulator scale 2**-(3+2)
W2 = [[5, -3, 4, -6], [-2, 7, -1, 3], [4, 4, -4, 2]]
B2 = [0, 8, -8]
X = [[[1, -2, 3], [4, 0, -1]], [[-3, 2, 2], [1, 1, 1]], [[5, -5, 0], [2, -2, 7]], [[0, 0, 0], [0, 0, 0]],
     [[31, -32, 10], [-10, 20, -20]], [[2, 3, -4], [6, -1, 0]]]
Y = [0, 1, 2, 0, 1, 2]
GOLDEN_LOGITS = [[2, 0, 2], [-1, 3, 0], [-4, 3, -2], [1, 1, -2], [19, -7, 14], [6, 0, -8]]
GOLDEN_MSE = (3, 6, 943)                   # loss at 2**-4
GOLDEN_CE = (3, 6, 62621139623)            # loss at 2**-32 nats
GOLDEN_SPEC_HASH = "09ddee7287584a45e170d7bc50a02c9671e7325d0a099951a5a798789aefa7e6"


def golden_arrays():
    return ([np.array(a, dtype=np.int64) for a in (W1, B1, W2, B2)],
            np.array(X, dtype=np.int64), np.array(Y, dtype=np.int64))


@pytest.mark.parametrize("loss, expected", [(1, GOLDEN_MSE), (2, GOLDEN_CE)])
def test_golden_vector(loss, expected):
    spec = dataclasses.replace(GOLDEN_SPEC, loss=loss)
    weights, inputs, labels = golden_arrays()
    got = score(spec, weights, inputs, labels)
    assert (got.correct, got.total, got.loss) == expected
    assert forward(spec, weights, inputs).logits.tolist() == GOLDEN_LOGITS
    # The same numbers from the slow Fraction/int reference, so the golden values are the rules' values.
    correct, total, ref_loss, ref_logits, ties, clips = reference_score(spec, [W1, B1, W2, B2], X, Y)
    assert (correct, total, ref_loss) == expected and ref_logits == GOLDEN_LOGITS
    assert ties > 0 and clips > 0, "the vector must exercise half-even ties and clipping"


def test_golden_spec_hash():
    from chain.scoring.spec import spec_hash
    assert spec_hash(GOLDEN_SPEC).hex() == GOLDEN_SPEC_HASH


def test_argmax_ties_go_to_lowest_index():
    logits = np.array([[5, 5, 1], [0, 2, 2], [7, 7, 7]], dtype=np.int64)
    assert correct_count(logits, np.array([0, 1, 0])) == 3
    assert correct_count(logits, np.array([1, 2, 2])) == 0


def test_cross_entropy_tables_are_pinned():
    exp, log, ln2 = tables.generate()
    assert tables.tables_digest(exp, log, ln2) == tables.TABLES_SHA256 == (
        "f3dbb4bc5d87f6ce67847a906fdb1cf61ec85689b820a1d2506d8e908f5c8ebe")
    assert exp[0] == 1 << 32 and exp[-1] == 0 and log[0] == 0


def test_cross_entropy_close_to_float_definition():
    rng = np.random.default_rng(3)
    logits = rng.integers(-8 << 16, 8 << 16, (200, 10))
    labels = rng.integers(0, 10, 200)
    z = logits / 65536.0
    true = np.sum(np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1) - z[np.arange(200), labels])
    assert abs(cross_entropy_loss(logits, labels, 16) / 2**32 - true) < 200 * 2e-3


# --- matmul paths --------------------------------------------------------------------------------
def python_matmul(a, w_t, bias):
    a, w_t = a.tolist(), w_t.tolist()
    return [[sum(x * y for x, y in zip(row, col)) + int(b) for col, b in zip(zip(*w_t), bias.tolist())] for row in a]


@pytest.mark.parametrize("bits_a, bits_w, bias_bits, path", [
    (20, 20, 30, PATH_FLOAT64), (31, 24, 40, PATH_LIMBS_INT64), (31, 31, 61, PATH_LIMBS_OBJECT),
    (40, 12, 0, PATH_LIMBS_INT64), (62, 62, 62, PATH_LIMBS_OBJECT)])
def test_every_path_equals_python_ints(bits_a, bits_w, bias_bits, path):
    rng = np.random.default_rng(bits_a * 100 + bits_w)
    n = 37
    a = rng.integers(-(1 << bits_a), 1 << bits_a, (5, n), dtype=np.int64)
    w_t = rng.integers(-(1 << bits_w), 1 << bits_w, (n, 4), dtype=np.int64)
    bias = rng.integers(-(1 << bias_bits), 1 << bias_bits, 4, dtype=np.int64) if bias_bits else np.zeros(4, np.int64)
    out, got_path = matmul_exact(a, w_t, bias)
    assert got_path == path
    assert [[int(v) for v in row] for row in out.tolist()] == python_matmul(a, w_t, bias)


def test_bound_counts_the_bias():
    assert exact_float64(4, 1 << 20, 1 << 20, (1 << 53) - (4 << 40) - 1)
    assert not exact_float64(4, 1 << 20, 1 << 20, (1 << 53) - (4 << 40))


def test_largest_float64_product_is_exact():
    # Adversarial: every product at the maximum, all the same sign, just under the bound.
    n, m = 1024, (1 << 21) - 1
    a = np.full((3, n), m, dtype=np.int64)
    w_t = np.full((n, 2), m, dtype=np.int64)
    w_t[0, 1] = -m
    out, path = matmul_exact(a, w_t, np.zeros(2, np.int64))
    assert path == PATH_FLOAT64 and n * m * m < F64_EXACT
    assert out[0].tolist() == [n * m * m, (n - 2) * m * m]


def test_product_beyond_the_bound_takes_the_exact_path_where_float64_diverges():
    # All-positive operands near 2**22 over n = 1024: the true dot products exceed 2**53, and one of
    # them is made odd, so no float64 number equals it: float64 BLAS must be wrong there.
    rng = np.random.default_rng(7)
    n = 1024
    a = rng.integers(1 << 21, 1 << 22, (4, n), dtype=np.int64)
    w_t = rng.integers(1 << 21, 1 << 22, (n, 3), dtype=np.int64)
    exact = python_matmul(a, w_t, np.zeros(3, np.int64))
    if exact[0][0] % 2 == 0:
        j = int(np.flatnonzero(w_t[:, 0] % 2)[0])  # adding 1 to a[0, j] adds an odd w_t[j, 0]
        a[0, j] += 1
        exact = python_matmul(a, w_t, np.zeros(3, np.int64))
    assert exact[0][0] % 2 == 1 and exact[0][0] > F64_EXACT
    assert not exact_float64(n, int(a.max()), int(w_t.max()))

    out, path = matmul_exact(a, w_t, np.zeros(3, np.int64))
    assert path == PATH_LIMBS_INT64
    assert out.tolist() == exact

    as_float = np.matmul(a.astype(np.float64), w_t.astype(np.float64))
    assert int(as_float[0, 0]) != exact[0][0]  # what a float64-only kernel would have reported


def test_forward_matches_reference_on_random_models_all_paths():
    rng = np.random.default_rng(11)
    spec = ModelSpec(version=1, input_shape=(2, 8), layers=(Layer(3), Layer(1, 16, 12), Layer(2), Layer(1, 12, 5)),
                     input_format=FixedPoint(10, 32), weight_format=FixedPoint(12, 32),
                     activation_format=FixedPoint(9, 32), bias_bits=62, loss=2)
    for weight_bits, want in ((10, PATH_FLOAT64), (31, PATH_LIMBS_INT64)):
        weights = [rng.integers(-(1 << weight_bits), 1 << weight_bits, (12, 16)),
                   rng.integers(-(1 << 40), 1 << 40, 12),
                   rng.integers(-(1 << weight_bits), 1 << weight_bits, (5, 12)),
                   rng.integers(-(1 << 40), 1 << 40, 5)]
        inputs = rng.integers(-(1 << 20), 1 << 20, (9, 2, 8))
        labels = rng.integers(0, 5, 9)
        fw = forward(spec, weights, inputs)
        assert fw.paths[0] == want
        got = score(spec, weights, inputs, labels)
        ref = reference_score(spec, [w.tolist() for w in weights], inputs.tolist(), labels.tolist())
        assert (got.correct, got.total, got.loss) == ref[:3]
        assert fw.logits.tolist() == ref[3]


def test_logit_hash_is_stable_across_calls():
    weights, inputs, labels = golden_arrays()
    h = {hashlib.sha256(forward(GOLDEN_SPEC, weights, inputs).logits.tobytes()).hexdigest() for _ in range(3)}
    assert len(h) == 1


@pytest.mark.parametrize("in_frac, w_frac, act_frac, loss", [(32, 32, 2, 1), (0, 5, 5, 2), (7, 0, 0, 2)])
def test_extreme_formats_match_reference(in_frac, w_frac, act_frac, loss):
    # Full 32-bit ranges, shifts from 0 to 62, both metrics, every matmul path.
    rng = np.random.default_rng(in_frac + w_frac + act_frac)
    spec = ModelSpec(version=1, input_shape=(6,), layers=(Layer(1, 6, 5), Layer(2), Layer(1, 5, 4)),
                     input_format=FixedPoint(in_frac, 32), weight_format=FixedPoint(w_frac, 32),
                     activation_format=FixedPoint(act_frac, 32), bias_bits=62, loss=loss)
    lim = 1 << 31
    weights = [rng.integers(-lim, lim, (5, 6)), rng.integers(-(1 << 61), 1 << 61, 5),
               rng.integers(-lim, lim, (4, 5)), rng.integers(-(1 << 61), 1 << 61, 4)]
    inputs = rng.integers(-lim, lim, (7, 6))
    inputs[0] = 0
    labels = rng.integers(0, 4, 7)
    got = score(spec, weights, inputs, labels)
    ref = reference_score(spec, [w.tolist() for w in weights], inputs.tolist(), labels.tolist())
    assert (got.correct, got.total, got.loss) == ref[:3]
    assert forward(spec, weights, inputs).logits.tolist() == ref[3]
