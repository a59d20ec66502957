"""Revealing a round's validation shard (docs/rounds.md, "MsgRevealShard and MsgCloseModel"; its checks in
docs/registry.md, "Messages"): the owner publishes the shard with its Merkle proof after the round's window,
pays the scoring work, and the round's jobs are queued: the head on this shard, then every valid opened
update's candidate. The round then closes once every score is in."""
from __future__ import annotations

from chain.auth import params as auth_params
from chain.auth.ante import FEES
from chain.bank import keeper as bank
from chain.registry import keeper as registry
from chain.registry import params as rparams
from chain.registry.errors import (ModelNotActive, RevealTooEarly, RevealTooLate, RoundAlreadyRevealed,
                                   ShardAlreadyRevealed)
from chain.registry.handlers import coin_text, open_model
from chain.registry.model import ACTIVE
from chain.results import BlockContext, Event
from chain.rounds import fees
from chain.rounds import keeper as rounds
from chain.rounds.messages import MsgRevealShard
from chain.rounds.scoring_queue import enqueue, enqueue_update_job, new_job, work_per_sample
from chain.rounds.settle import index_close
from chain.scoring.errors import InvalidMerkleProof
from chain.scoring.shards import decode_proof, load_shard, shard_hash, verify_shard_proof


def process_reveal_shard(state, ctx: BlockContext, signer: bytes, msg: MsgRevealShard) -> tuple[Event, ...]:
    params = rparams.load(state)
    native = auth_params.load(state).fee_denom
    model = open_model(state, msg.model_id, signer)
    if model.status != ACTIVE:
        raise ModelNotActive(f"model {model.id} is still uploading its weights")
    if ctx.height < model.round_end(msg.round):
        raise RevealTooEarly(f"round {msg.round} accepts submissions until height {model.round_end(msg.round) - 1}; "
                             f"reveal from {model.round_end(msg.round)}")
    if ctx.height >= model.reveal_deadline(msg.round):
        raise RevealTooLate(f"round {msg.round}'s reveal window ended at height {model.reveal_deadline(msg.round) - 1}")
    if registry.get_reveal(state, model.id, msg.round) is not None:
        raise RoundAlreadyRevealed(f"round {msg.round} of model {model.id} already has its shard")
    if registry.get_shard(state, model.id, msg.shard_index) is not None:
        raise ShardAlreadyRevealed(f"shard {msg.shard_index} of model {model.id} is already revealed")
    spec = registry.stored_spec(state, model.id)
    _, labels = load_shard(msg.shard, spec, params.max_shard_samples)
    proof = decode_proof(msg.proof)
    if proof.index != msg.shard_index:
        raise InvalidMerkleProof(f"the proof is for shard {proof.index}, not {msg.shard_index}")
    verify_shard_proof(bytes.fromhex(model.shard_root), model.shard_count, shard_hash(msg.shard), proof)
    samples, per_sample = len(labels), work_per_sample(spec)
    fee = samples * per_sample * params.fee_per_work_unit
    if fee:
        bank.validate_send(state, signer, [(native, fee)])
    record = rounds.get_round(state, model.id, msg.round)
    subs = rounds.submissions(state, model.id, msg.round) if record is not None else []
    # the owner-side jobs the close queues later, prepaid into the rounds escrow (chain/rounds/fees.py)
    reserve = fees.reserve_jobs(model, msg.round, subs) * fee if record is not None else 0
    fees.require_funds(state, signer, [(native, fee), (native, reserve)],
                       f"the head's scoring fee {fee}{native} and the round's scoring reserve {reserve}{native}")

    if fee:
        FEES.collect(state, signer, [(native, fee)])
    if reserve:
        rounds.escrow_deposit(state, signer, native, reserve)
    if record is not None:
        rounds.put_round(state, {**record, "scoring_reserve": str(reserve), "scoring_reserve_denom": native})
    registry.put_shard(state, model.id, msg.shard_index, msg.shard)
    registry.put_reveal(state, model.id, msg.round, {"shard_index": msg.shard_index, "height": ctx.height,
                                                   "version": model.head_version})
    enqueue(state, ctx.height, new_job(model.id, model.head_version, msg.round, msg.shard_index, samples, per_sample))
    updates = [s for s in subs if s["status"] == rounds.OPENED]
    for sub in updates:  # each valid opened update's candidate, on the same shard, after the head
        enqueue_update_job(state, ctx.height, model.id, msg.round, sub)
    if rounds.get_round(state, model.id, msg.round) is not None:   # closes once every score is in
        index_close(state, model.id, msg.round)
    registry.put_model(state, model.with_(revealed_count=model.revealed_count + 1))
    return (Event("reveal_shard", (("model_id", str(model.id)), ("round", str(msg.round)),
                                   ("shard_index", str(msg.shard_index)), ("samples", str(samples)),
                                   ("work", str(samples * per_sample)), ("scoring_fee", coin_text(native, fee)),
                                   ("scoring_reserve", coin_text(native, reserve)),
                                   ("updates", str(len(updates))))),)
