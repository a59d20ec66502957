"""The outsider's attack on an opened update (issue 14, "What an update reveals").

For a first Linear layer y = W x + b and a loss L, dL/dW[i,:] = dL/db[i] * x for one sample x, so after
one SGD step the delta gives dW[i,:] / db[i] = x for every row i with db[i] != 0. For a batch the rows
are mixtures of the samples' inputs; for several local steps the identity holds approximately. The
attacker needs only what the chain serves: the delta (`/rounds/update`, provable) and the spec.
"""
from __future__ import annotations

import numpy as np

from chain.rounds.delta import decode_delta


def first_layer_rows(delta: bytes, spec) -> list[np.ndarray]:
    """x estimates dW[i,:] / db[i] in real units, rows ordered by |db[i]| (largest, most accurate, first)."""
    return rows_of_arrays(decode_delta(delta), spec)


def rows_of_arrays(arrays, spec) -> list[np.ndarray]:
    """first_layer_rows of a delta's tensors already decoded (or of any int vector cut to its shapes)."""
    dW = arrays[0].astype(np.float64) / 2.0 ** spec.weight_format.frac_bits
    db = arrays[1].astype(np.float64) / 2.0 ** (spec.weight_format.frac_bits + spec.input_format.frac_bits)
    order = [i for i in np.argsort(-np.abs(db)) if db[i] != 0]
    return [dW[i] / db[i] for i in order]


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na and nb else 0.0


def best_cosines(rows: list[np.ndarray], samples: np.ndarray) -> list[float]:
    """Per private sample, the best cosine similarity of any recovered row to it."""
    return [max((cosine(r, x) for r in rows), default=0.0) for x in samples]


def recovered_label(delta: bytes, spec) -> int:
    """One sample, cross-entropy: the last layer's bias step is -lr (softmax - onehot), positive only at
    the true class."""
    arrays = decode_delta(delta)
    return int(np.argmax(arrays[-1]))
