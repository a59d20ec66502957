"""The candidates a round scores, read from state: an opened update applied to its parent, and the FedAvg
aggregate of several (chain/rounds/delta.py has the arithmetic)."""
from __future__ import annotations

import numpy as np

from chain.registry import keeper as registry
from chain.rounds import keeper
from chain.rounds.delta import apply_delta, mean_half_even
from chain.scoring.weights import load_weights


def candidate(state, model_id: int, round_: int, seq: int) -> tuple[np.ndarray, ...]:
    """parent + delta of an opened submission (raises the update's rounds error if it is malformed)."""
    sub = keeper.get_submission(state, model_id, round_, seq)
    spec = registry.stored_spec(state, model_id)
    parent = load_weights(registry.weights_bytes(state, model_id, sub["parent"]), spec)
    return apply_delta(spec, parent, keeper.get_update(state, model_id, round_, seq))


def aggregate_candidate(state, model_id: int, round_: int, seqs: list[int],
                        kind: str = "fedavg") -> tuple[np.ndarray, ...]:
    """An aggregate of opened submissions with one common parent, element by element over their candidates:
    FedAvg (the mean, rounded half to even), the coordinate-wise median, or the trimmed mean. Each candidate
    lies in the spec's ranges, so any of these does too (no range check needed)."""
    members = [candidate(state, model_id, round_, seq) for seq in seqs]
    combine = {"fedavg": mean_half_even, "median": coordinate_median, "trimmed_mean": trimmed_mean}[kind]
    return tuple(combine([m[i] for m in members]) for i in range(len(members[0])))


def coordinate_median(arrays: list[np.ndarray]) -> np.ndarray:
    """The element-wise median; for an even count, the mean of the two middle values rounded half to even.
    One value far out on a coordinate cannot move it past the others'."""
    stacked = np.sort(np.stack([np.asarray(a, dtype=np.int64) for a in arrays]), axis=0)
    n = len(arrays)
    if n % 2:
        return stacked[n // 2]
    return mean_half_even([stacked[n // 2 - 1], stacked[n // 2]])


def trim_count(n: int) -> int:
    """Values dropped from each end per coordinate: one, plus one more per ten updates (none below three)."""
    return 0 if n < 3 else 1 + (n - 3) // 10


def trimmed_mean(arrays: list[np.ndarray]) -> np.ndarray:
    """The element-wise mean of what is left once trim_count(n) values are dropped from each end, rounded half
    to even."""
    t = trim_count(len(arrays))
    stacked = np.sort(np.stack([np.asarray(a, dtype=np.int64) for a in arrays]), axis=0)
    kept = stacked[t:len(arrays) - t]
    return mean_half_even(list(kept))
