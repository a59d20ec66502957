"""A slow, obviously-correct reference of the scoring rules in pure Python ints and Fractions.

It shares nothing with chain.scoring except the spec's numbers and the pinned table values (which
are data, checked by hash), so agreement with the kernel means the kernel implements the rules.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from chain.scoring import tables
from chain.scoring.spec import LAYER_FLATTEN, LAYER_LINEAR, LAYER_RELU, LOSS_MSE


def round_half_even_shift(x: int, s: int) -> int:
    return round(Fraction(x, 1 << s))  # Python rounds Fractions half to even


def clip_bits(x: int, bits: int) -> int:
    return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, x))


def flatten(x):
    return [v for row in x for v in flatten(row)] if isinstance(x, list) else [x]


def forward_one(spec, weights, sample) -> tuple[list[int], int, int]:
    """Logits of one sample (nested lists of ints), the number of exact rounding ties and of clips met."""
    x = sample
    frac = spec.input_format.frac_bits
    wf, af, ab = spec.weight_format.frac_bits, spec.activation_format.frac_bits, spec.activation_format.bits
    ties = clips = 0
    li = 0
    for layer in spec.layers:
        if layer.kind == LAYER_FLATTEN:
            x = flatten(x)
        elif layer.kind == LAYER_RELU:
            x = [max(v, 0) for v in x] if not isinstance(x[0], list) else _relu_nested(x)
        elif layer.kind == LAYER_LINEAR:
            w, b = weights[2 * li], weights[2 * li + 1]
            li += 1
            s = wf + frac - af
            out = []
            for j in range(layer.out_features):
                acc = sum(int(x[k]) * int(w[j][k]) for k in range(layer.in_features)) + int(b[j])
                if s and acc % (1 << s) == 1 << (s - 1):
                    ties += 1
                rounded = round_half_even_shift(acc, s)
                clips += rounded != clip_bits(rounded, ab)
                out.append(clip_bits(rounded, ab))
            x = out
            frac = af
    return x, ties, clips


def _relu_nested(x):
    return [_relu_nested(v) if isinstance(v, list) else max(v, 0) for v in x]


def mse(logits, label, act_frac) -> int:
    return sum((z - ((1 << act_frac) if c == label else 0)) ** 2 for c, z in enumerate(logits))


@lru_cache(maxsize=1)
def _table_lists():
    exp, log, ln2 = tables.tables()  # pinned by hash: data, not code under test
    return exp.tolist(), log.tolist(), ln2


def cross_entropy(logits, label, act_frac) -> int:
    exp, log, ln2 = _table_lists()
    top = max(logits)
    total = 0
    for z in logits:
        d = top - z
        step = tables.EXP_STEP_BITS
        i = round_half_even_shift(d, act_frac - step) if act_frac >= step else d << (step - act_frac)
        total += exp[min(i, tables.EXP_LEN)]
    n = total.bit_length()
    index = (total >> (n - 1 - tables.LOG_INDEX_BITS)) - (1 << tables.LOG_INDEX_BITS)
    lse = (n - 1 - tables.ONE_BITS) * ln2 + log[index]
    return ((top - logits[label]) << (tables.ONE_BITS - act_frac)) + lse


def reference_score(spec, weights, inputs, labels):
    """(correct, total, loss, all logits, ties, clips) with inputs/weights as nested lists of ints."""
    correct = loss = ties = clips = 0
    all_logits = []
    for sample, label in zip(inputs, labels):
        logits, t, c = forward_one(spec, weights, sample)
        ties += t
        clips += c
        all_logits.append(logits)
        best = max(range(len(logits)), key=lambda c: (logits[c], -c))  # highest, then lowest index
        correct += best == label
        af = spec.activation_format.frac_bits
        loss += mse(logits, label, af) if spec.loss == LOSS_MSE else cross_entropy(logits, label, af)
    return correct, len(labels), loss, all_logits, ties, clips
