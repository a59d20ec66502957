"""The scoring queue: deterministic, budgeted work at the end of each block. Rounds own it: every job
scores something a round needs (a version, an opened update's candidate, the FedAvg aggregate) on the
round's revealed shard.

A job scores one model version on one revealed shard. Its work is samples x (sum over Linear layers of
in x out) multiply-adds. Jobs are kept per model, first in, first out (key: model id, enqueue height,
sequence). At the end of a block the budget (param scoring_work_per_block) is shared round-robin between
the models with pending jobs, so one model's backlog cannot hold up another's scoring:

  * the turn order starts at the first model id after the stored cursor (the last model served in the
    previous block's fair-share pass) and wraps around;
  * pass 1: each model in that order gets a fair share, budget // (models with jobs), and runs its jobs
    FIFO within it; a turn may always take one sample if the block's remaining budget holds it;
  * pass 2: what is left goes to the models that still have work, in the same order (work-conserving);
  * the cursor becomes the last model that ran in pass 1, so a model cut short goes first next block.

Jobs run in slices of samples: every metric is a sum over samples (correct count, total, loss), so a job
split across blocks adds up to exactly the score of the whole shard. If nothing ran yet in a block and not
even one sample of the first model's head job fits the whole budget, that one sample runs alone, so the
queue always moves. With one model the schedule is the plain FIFO of before.
"""
from __future__ import annotations

from chain.codec import decode_uint, encode_uint
from chain.registry import keeper
from chain.registry.params import RegistryParams
from chain.registry.params import load as load_registry_params
from chain.results import BlockContext, Event
from chain.rounds import keeper as rounds
from chain.rounds import keys
from chain.rounds.records import Job
from chain.rounds.candidates import aggregate_candidate, candidate
from chain.scoring.kernel import score
from chain.scoring.shards import load_shard
from chain.scoring.spec import ModelSpec, linear_layers
from chain.scoring.weights import load_weights
from chain.store.kv import prefix_end


# --- the queue's records: per model, FIFO by (enqueue height, sequence) ---------------------------------
def next_job_seq(state) -> int:
    raw = state.get(keys.NEXT_JOB_SEQ)
    return decode_uint(raw) if raw is not None else 1


def set_next_job_seq(state, seq: int) -> None:
    state.set(keys.NEXT_JOB_SEQ, encode_uint(seq))


def last_served_model(state) -> int | None:
    """The round-robin cursor: the last model that ran in a block's fair-share pass (None before any)."""
    raw = state.get(keys.QUEUE_CURSOR)
    return decode_uint(raw) if raw is not None else None


def set_last_served_model(state, model_id: int) -> None:
    state.set(keys.QUEUE_CURSOR, encode_uint(model_id))


def enqueue(state, height: int, job: dict) -> int:
    seq = next_job_seq(state)
    set_next_job_seq(state, seq + 1)
    put_job(state, height, seq, job)
    return seq


def put_job(state, height: int, seq: int, job: dict) -> None:
    state.set(keys.queue_key(job["model_id"], height, seq), Job(job).encode())


def delete_job(state, model_id: int, height: int, seq: int) -> None:
    state.delete(keys.queue_key(model_id, height, seq))


def _position(key: bytes) -> tuple[int, int]:
    n = len(keys.QUEUE) + 8   # after the model id
    return int.from_bytes(key[n:n + 8], "big"), int.from_bytes(key[n + 8:n + 16], "big")


def first_job(state, model_id: int) -> tuple[int, int, dict] | None:
    """(enqueue height, sequence, job) of the model's job that runs next, or None."""
    prefix = keys.queue_prefix(model_id)
    for key, value in state.iterate(prefix, prefix_end(prefix)):
        return (*_position(key), Job.decode(value))
    return None


def pending_models(state) -> list[int]:
    """Ids of the models with queued jobs, ascending: one seek per model, whatever their backlogs."""
    ids, start, end = [], keys.QUEUE, prefix_end(keys.QUEUE)
    while (first := next(iter(state.iterate(start, end)), None)) is not None:
        model_id = int.from_bytes(first[0][len(keys.QUEUE):len(keys.QUEUE) + 8], "big")
        ids.append(model_id)
        start = prefix_end(keys.queue_prefix(model_id))
    return ids


def jobs(state) -> list[tuple[int, int, dict]]:
    """(enqueue height, sequence, job) by model id, then first in, first out within a model."""
    return [(*_position(k), Job.decode(v)) for k, v in state.iterate(keys.QUEUE, prefix_end(keys.QUEUE))]


def drop_model_jobs(state, model_id: int) -> None:
    prefix = keys.queue_prefix(model_id)
    for key, _ in list(state.iterate(prefix, prefix_end(prefix))):
        state.delete(key)


# --- making jobs --------------------------------------------------------------------------------------------
def work_per_sample(spec: ModelSpec) -> int:
    return sum(layer.in_features * layer.out_features for layer in linear_layers(spec))


def new_job(model_id: int, version: int, round_: int, shard_index: int, samples: int, per_sample: int,
            update_seq: int | None = None) -> dict:
    """A job scores `version`, or, with `update_seq`, the candidate parent + delta of that opened submission
    of `round_` (version = its parent; the result goes on the submission record, docs/rounds.md)."""
    job = {"model_id": model_id, "version": version, "round": round_, "shard_index": shard_index,
           "samples": samples, "work_per_sample": per_sample, "done": 0, "correct": 0, "loss": "0"}
    return job if update_seq is None else {**job, "update_seq": update_seq}


def _revealed(state, model_id: int, round_: int) -> tuple[dict, ModelSpec, int] | None:
    """The round's reveal record, the model's spec and the shard's sample count; None before the reveal."""
    reveal = keeper.get_reveal(state, model_id, round_)
    if reveal is None:
        return None
    spec = keeper.stored_spec(state, model_id)
    _, labels = load_shard(keeper.get_shard(state, model_id, reveal["shard_index"]), spec, 1 << 62)
    return reveal, spec, len(labels)


def enqueue_version_job(state, height: int, model_id: int, version: int, round_: int) -> int:
    """Score `version` on the round's revealed shard. Returns the job's work (multiply-adds)."""
    reveal, spec, samples = _revealed(state, model_id, round_)
    enqueue(state, height, new_job(model_id, version, round_, reveal["shard_index"], samples, work_per_sample(spec)))
    return samples * work_per_sample(spec)


def enqueue_update_job(state, height: int, model_id: int, round_: int, sub: dict) -> None:
    """Queue the scoring of an opened submission's candidate on its round's revealed shard (if revealed)."""
    revealed = _revealed(state, model_id, round_)
    if revealed is None:
        return
    reveal, spec, samples = revealed
    enqueue(state, height, new_job(model_id, sub["parent"], round_, reveal["shard_index"], samples,
                                   work_per_sample(spec), update_seq=sub["seq"]))
    # its exact cost, charged from the submitter's prepayment when it settles (chain/rounds/fees.py)
    due = samples * work_per_sample(spec) * load_registry_params(state).fee_per_work_unit
    rounds.put_submission(state, model_id, round_, {**sub, "scoring_fee_due": str(due)})


def enqueue_aggregate_job(state, height: int, model_id: int, head_version: int, round_: int,
                          seqs: list[int], kind: str = "fedavg") -> int:
    """Score the FedAvg aggregate of the opened submissions `seqs` (all trained on the head). Returns the
    job's work (multiply-adds)."""
    reveal, spec, samples = _revealed(state, model_id, round_)
    job = new_job(model_id, head_version, round_, reveal["shard_index"], samples, work_per_sample(spec))
    enqueue(state, height, {**job, "aggregate_of": seqs, **({"aggregator": kind} if kind != "fedavg" else {})})
    return samples * work_per_sample(spec)


# --- running them --------------------------------------------------------------------------------------------


def run_block(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Run queued scoring within the block's budget (registry param scoring_work_per_block)."""
    return run(state, ctx, load_registry_params(state))


def run(state, ctx: BlockContext, params: RegistryParams) -> tuple[Event, ...]:
    """Work through the queue within this block's budget, round-robin between models (module docstring).
    Writes nothing when the queue is empty."""
    models = pending_models(state)
    if not models:
        return ()
    cursor = last_served_model(state)
    order = models if cursor is None else [m for m in models if m > cursor] + [m for m in models if m <= cursor]
    budget = params.scoring_work_per_block
    share = max(1, budget // len(order))
    block = {"remaining": budget, "ran": False}
    events: tuple[Event, ...] = ()
    served = None
    for model_id in order:                 # pass 1: fair shares
        if block["remaining"] == 0:
            break
        ran, turn_events = _turn(state, ctx, model_id, min(share, block["remaining"]), block)
        events += turn_events
        if ran:
            served = model_id
    for model_id in order:                 # pass 2: the rest of the budget, to whoever still has work
        if block["remaining"] == 0:
            break
        events += _turn(state, ctx, model_id, block["remaining"], block)[1]
    if served is not None and served != cursor:
        set_last_served_model(state, served)
    return events


def _turn(state, ctx: BlockContext, model_id: int, allowance: int, block: dict) -> tuple[bool, tuple[Event, ...]]:
    """Run the model's jobs FIFO within `allowance` work; `block` carries the block's remaining budget and
    whether anything ran yet. Returns (whether a sample ran, events)."""
    spent = 0
    events: tuple[Event, ...] = ()
    while (head := first_job(state, model_id)) is not None:
        height, seq, job = head
        per_sample = job["work_per_sample"]
        n = min(job["samples"] - job["done"], (allowance - spent) // per_sample)
        if n == 0:
            if spent or (per_sample > block["remaining"] and block["ran"]):
                break  # the rest waits for a later turn
            n = 1      # a turn takes at least one sample; one heavier than the whole budget runs alone
        job = _score_slice(state, job, n)
        spent += n * per_sample
        block["remaining"] = max(0, block["remaining"] - n * per_sample)
        block["ran"] = True
        if job["done"] < job["samples"]:
            put_job(state, height, seq, job)
            events += (_event("scoring_progress", job),)
            break
        delete_job(state, model_id, height, seq)
        result = {"correct": job["correct"], "total": job["samples"], "loss": job["loss"],
                  "shard_index": job["shard_index"], "height": ctx.height}
        if "update_seq" in job:
            _put_update_score(state, job, result)
        elif "aggregate_of" in job:
            _put_aggregate_score(state, job, result)
        else:
            keeper.put_score(state, job["model_id"], job["version"], job["round"], result)
        events += (_event("scored", job),)
        if block["remaining"] == 0:
            break
    return spent > 0, events


def _score_slice(state, job: dict, n: int) -> dict:
    model_id, start = job["model_id"], job["done"]
    spec = keeper.stored_spec(state, model_id)
    if "update_seq" in job:
        weights = candidate(state, model_id, job["round"], job["update_seq"])  # valid: checked when it opened
    elif "aggregate_of" in job:
        weights = aggregate_candidate(state, model_id, job["round"], job["aggregate_of"],
                                      job.get("aggregator", "fedavg"))
    else:
        weights = load_weights(keeper.weights_bytes(state, model_id, job["version"]), spec)
    inputs, labels = load_shard(keeper.get_shard(state, model_id, job["shard_index"]), spec, job["samples"])
    part = score(spec, weights, inputs[start:start + n], labels[start:start + n])
    return {**job, "done": start + n, "correct": job["correct"] + part.correct,
            "loss": str(int(job["loss"]) + part.loss)}


def _put_update_score(state, job: dict, result: dict) -> None:
    sub = rounds.get_submission(state, job["model_id"], job["round"], job["update_seq"])
    rounds.put_submission(state, job["model_id"], job["round"], {**sub, "score": result})


def _put_aggregate_score(state, job: dict, result: dict) -> None:
    """The FedAvg candidate's score goes on the round record, if the round still waits for this aggregate."""
    record = rounds.get_round(state, job["model_id"], job["round"])
    slot = "robust" if "aggregator" in job else "aggregate"
    aggregate = record.get(slot)
    if aggregate and aggregate["version"] == job["version"] and aggregate["of"] == job["aggregate_of"]:
        rounds.put_round(state, {**record, slot: {**aggregate, "score": result}})


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
