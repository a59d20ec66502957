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


def aggregate_candidate(state, model_id: int, round_: int, seqs: list[int]) -> tuple[np.ndarray, ...]:
    """FedAvg of opened submissions with one common parent: the mean of their candidates, rounded half to
    even. Each candidate lies in the spec's ranges, so their mean does too (no range check needed)."""
    members = [candidate(state, model_id, round_, seq) for seq in seqs]
    return tuple(mean_half_even([m[i] for m in members]) for i in range(len(members[0])))
