"""The scoring queue: deterministic, budgeted work at the end of each block.

A job scores one model version on one revealed shard. Its work is samples x (sum over Linear layers of
in x out) multiply-adds. At the end of a block jobs run FIFO (enqueue height, then sequence) while the
block's budget (param scoring_work_per_block) lasts. Jobs run in slices of samples: every metric is a
sum over samples (correct count, total, loss), so a job split across blocks adds up to exactly the score
of the whole shard. If not even one sample of the head job fits the remaining budget the block's
scoring stops, unless nothing ran yet: then one sample runs alone, so the queue always moves.
"""
from __future__ import annotations

from chain.registry import keeper
from chain.registry.params import RegistryParams
from chain.results import BlockContext, Event
from chain.scoring.kernel import score
from chain.scoring.shards import load_shard
from chain.scoring.spec import ModelSpec, linear_layers
from chain.scoring.weights import load_weights

def work_per_sample(spec: ModelSpec) -> int:
    return sum(layer.in_features * layer.out_features for layer in linear_layers(spec))


def new_job(model_id: int, version: int, round_: int, shard_index: int, samples: int, per_sample: int,
            update_seq: int | None = None) -> dict:
    """A job scores `version`, or, with `update_seq`, the candidate parent + delta of that opened submission
    of `round_` (version = its parent; the result goes on the submission record, docs/rounds.md)."""
    job = {"model_id": model_id, "version": version, "round": round_, "shard_index": shard_index,
           "samples": samples, "work_per_sample": per_sample, "done": 0, "correct": 0, "loss": "0"}
    return job if update_seq is None else {**job, "update_seq": update_seq}


def run(state, ctx: BlockContext, params: RegistryParams) -> tuple[Event, ...]:
    """Work through the queue within this block's budget. Writes nothing when the queue is empty."""
    budget = remaining = params.scoring_work_per_block
    events: tuple[Event, ...] = ()
    while (head := keeper.first_job(state)) is not None:
        height, seq, job = head
        left = job["samples"] - job["done"]
        n = min(left, remaining // job["work_per_sample"])
        if n == 0:
            if remaining < budget:
                break  # the rest waits for the next block
            n = 1      # one sample heavier than the whole budget runs alone in this block
        job = _score_slice(state, job, n)
        remaining = max(0, remaining - n * job["work_per_sample"])
        if job["done"] < job["samples"]:
            keeper.put_job(state, height, seq, job)
            events += (_event("scoring_progress", job),)
            break
        keeper.delete_job(state, height, seq)
        result = {"correct": job["correct"], "total": job["samples"], "loss": job["loss"],
                  "shard_index": job["shard_index"], "height": ctx.height}
        if "update_seq" in job:
            _put_update_score(state, job, result)
        elif "aggregate_of" in job:
            _put_aggregate_score(state, job, result)
        else:
            keeper.put_score(state, job["model_id"], job["version"], job["round"], result)
        events += (_event("scored", job),)
    return events


def _score_slice(state, job: dict, n: int) -> dict:
    model_id, start = job["model_id"], job["done"]
    spec = keeper.stored_spec(state, model_id)
    if "update_seq" in job:
        from chain.rounds.update import candidate
        weights = candidate(state, model_id, job["round"], job["update_seq"])  # valid: checked when it opened
    elif "aggregate_of" in job:
        from chain.rounds.update import aggregate_candidate
        weights = aggregate_candidate(state, model_id, job["round"], job["aggregate_of"])
    else:
        weights = load_weights(keeper.weights_bytes(state, model_id, job["version"]), spec)
    inputs, labels = load_shard(keeper.get_shard(state, model_id, job["shard_index"]), spec, job["samples"])
    part = score(spec, weights, inputs[start:start + n], labels[start:start + n])
    return {**job, "done": start + n, "correct": job["correct"] + part.correct,
            "loss": str(int(job["loss"]) + part.loss)}


def _put_update_score(state, job: dict, result: dict) -> None:
    from chain.rounds import keeper as rounds
    sub = rounds.get_submission(state, job["model_id"], job["round"], job["update_seq"])
    rounds.put_submission(state, job["model_id"], job["round"], {**sub, "score": result})


def _put_aggregate_score(state, job: dict, result: dict) -> None:
    """The FedAvg candidate's score goes on the round record, if the round still waits for this aggregate."""
    from chain.rounds import keeper as rounds
    record = rounds.get_round(state, job["model_id"], job["round"])
    aggregate = record.get("aggregate")
    if aggregate and aggregate["version"] == job["version"] and aggregate["of"] == job["aggregate_of"]:
        rounds.put_round(state, {**record, "aggregate": {**aggregate, "score": result}})


def _event(kind: str, job: dict) -> Event:
    attributes = (("model_id", str(job["model_id"])), ("version", str(job["version"])), ("round", str(job["round"])),
                  ("shard_index", str(job["shard_index"])), ("done", str(job["done"])), ("samples", str(job["samples"])))
    if "update_seq" in job:
        attributes += (("update_seq", str(job["update_seq"])),)
    if "aggregate_of" in job:
        attributes += (("aggregate_of", ",".join(map(str, job["aggregate_of"]))),)
    if kind == "scored":
        attributes += (("correct", str(job["correct"])), ("total", str(job["samples"])), ("loss", job["loss"]))
    return Event(kind, attributes)
